"""The view guard and the only way views fetch tenant objects (CONVENTIONS R5)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse

from portal.core.models import TenantQuerySet
from portal.tenants.models import Company

_M = TypeVar("_M", bound=models.Model)
ViewFunc = Callable[..., HttpResponse]


def company_view(*, perm: str | None = None) -> Callable[[ViewFunc], ViewFunc]:
    """Require a signed-in user with a company and, when given, the role permission ``perm`` (403 otherwise)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = getattr(request, "membership", None)
            if membership is None:
                raise PermissionDenied("This account belongs to no company.")
            if perm is not None and not membership.has_perm(perm):
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        wrapper.required_perm = perm  # type: ignore[attr-defined]
        return wrapper

    return decorator


def get_for_company_or_404(
    queryset: TenantQuerySet[_M] | models.Manager[_M], *, company: Company, **lookup: Any
) -> _M:
    """Fetch one object of ``company``; another company's object is a 404, the same as a missing one."""
    try:
        return queryset.filter(company=company, **lookup).get()
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise Http404("Not found") from exc
