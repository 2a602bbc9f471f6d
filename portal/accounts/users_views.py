"""Pages of the Users and Roles section (guide §13): lists, the user panel, custom roles."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts import permissions, users_services
from portal.accounts.models import Department, Membership, Role
from portal.accounts.permissions import BY_CODE, permission_groups
from portal.accounts.users_forms import RoleForm, UserForm
from portal.core.forms import apply_service_error
from portal.core.htmx import redirect_after_form, render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Kind, ListSpec, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404


def _role_names(membership: Membership) -> str:
    return ", ".join(role.name for role in membership.roles.all())


USERS_LIST = register_list(
    ListSpec(
        key="users",
        columns=(
            Column("first_name", gettext_lazy("First name"), "user__first_name"),
            Column("middle_name", gettext_lazy("Middle name"), "user__middle_name"),
            Column("last_name", gettext_lazy("Last name"), "user__last_name", required=True),
            Column("login", gettext_lazy("Login"), "user__username"),
            Column("email", gettext_lazy("E-mail"), "user__email"),
            Column("phone", gettext_lazy("Contact phone"), "user__phone"),
            Column("department", gettext_lazy("Department"), "department__name", default=False),
            Column("roles", gettext_lazy("Roles"), None, default=False, value=_role_names),
            Column("enabled", gettext_lazy("Enabled"), "user__is_active", Kind.BOOL, default=False),
            Column(
                "two_factor",
                gettext_lazy("2FA required"),
                "user__require_two_factor",
                Kind.BOOL,
                default=False,
            ),
            Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME),
            Column("updated", gettext_lazy("Updated"), "user__last_login", Kind.DATETIME, default=False),
        ),
        # Guide §13.1: the default sort is by last name, descending.
        default_sort="-last_name",
    )
)


def _role_chips(role: Role) -> str:
    """First three permission labels and how many more (guide §13.4: chips plus "+N")."""
    labels = [str(BY_CODE[c].label) for c in role.permissions if c in BY_CODE]
    more = f" +{len(labels) - 3}" if len(labels) > 3 else ""
    return ", ".join(labels[:3]) + more


def _role_name(role: Role) -> str:
    return f"{role.name} · {_('System')}" if role.is_system else role.name


ROLES_LIST = register_list(
    ListSpec(
        key="roles",
        columns=(
            Column("name", gettext_lazy("Name"), "name", required=True, value=_role_name),
            Column("description", gettext_lazy("Description"), "description", default=False),
            Column("permissions", gettext_lazy("Permissions"), None, value=_role_chips),
            Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME, default=False),
        ),
        default_sort="name",
    )
)
USERS_LIST_TEMPLATE = "accounts/user_list.html"


def _membership_qs(request: PortalRequest) -> Any:
    return (
        Membership.objects.filter(company=request.company)
        .select_related("user", "department")
        .prefetch_related(Prefetch("roles", queryset=Role.objects.order_by("name")))
    )


@company_view()
@require_GET
def user_list(request: PortalRequest) -> HttpResponse:
    if not request.membership.has_perm(permissions.USERS_MANAGE):
        # The menu's Users item also serves holders of Manage Roles alone: send them to their tab.
        if request.membership.has_perm(permissions.ROLES_MANAGE):
            return redirect("users:roles")
        raise PermissionDenied(_("Your role does not allow this."))
    return list_response(
        request,
        qs=_membership_qs(request),
        spec=USERS_LIST,
        template=USERS_LIST_TEMPLATE,
        context={"active_menu": "users", "tab": "users"},
    )


def _user_data(request: PortalRequest, form: UserForm) -> users_services.UserData:
    data = form.cleaned_data
    department = data.get("department")
    if data.get("new_department"):
        department = users_services.department_create(
            company=request.company, actor=request.user, name=data["new_department"]
        )
    assert isinstance(department, Department)  # noqa: S101  (UserForm.clean requires one of the two)
    return users_services.UserData(
        first_name=data["first_name"],
        last_name=data["last_name"],
        middle_name=data["middle_name"],
        login=data["login"],
        email=data["email"],
        phone=data["phone"],
        department=department,
        language=data["language"],
        roles=tuple(data["roles"]),
        is_active=data["is_active"],
        password=data["password"],
        two_factor=data["two_factor"],
    )


def _user_form_page(request: PortalRequest, form: UserForm, membership: Membership | None) -> HttpResponse:
    selected = set()
    if form.is_bound:
        ids = [v for v in request.POST.getlist("roles") if v.isdigit()]
        roles = Role.objects.filter(company=request.company, pk__in=ids)
        selected = {code for role in roles for code in role.permissions}
        if request.POST.get("no_restrictions"):
            selected = set(BY_CODE)
    elif membership is not None:
        selected = set(membership.permission_codes)
    return render_page(
        request,
        "accounts/user_form.html",
        {
            "form": form,
            "membership": membership,
            "groups": permission_groups(selected),
            "active_menu": "users",
        },
        partial="form",
    )


@company_view(perm=permissions.USERS_MANAGE)
@require_http_methods(["GET", "POST"])
def user_create(request: PortalRequest) -> HttpResponse:
    form = UserForm(request.POST or None, company=request.company)
    if request.method == "POST" and form.is_valid():
        try:
            user = users_services.company_user_create(
                company=request.company,
                actor=request.user,
                data=_user_data(request, form),
                no_restrictions=form.cleaned_data["no_restrictions"],
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("User %(login)s was added.") % {"login": user.username})
            return redirect_after_form(request, reverse("users:list"))
    return _user_form_page(request, form, None)


@company_view(perm=permissions.USERS_MANAGE)
@require_http_methods(["GET", "POST"])
def user_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    membership = get_for_company_or_404(
        Membership.objects.select_related("user", "department"), company=request.company, user__uuid=uuid
    )
    form = UserForm(request.POST or None, company=request.company, membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            users_services.company_user_update(
                company=request.company,
                actor=request.user,
                membership=membership,
                data=_user_data(request, form),
                no_restrictions=form.cleaned_data["no_restrictions"],
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(
                request, _("Changes to %(login)s were saved.") % {"login": membership.user.username}
            )
            return redirect_after_form(request, reverse("users:list"))
    return _user_form_page(request, form, membership)


@company_view(perm=permissions.USERS_MANAGE)
@require_POST
def user_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    membership = get_for_company_or_404(
        Membership.objects.select_related("user"), company=request.company, user__uuid=uuid
    )
    login = membership.user.username
    try:
        users_services.company_user_delete(company=request.company, actor=request.user, membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("User %(login)s was deleted.") % {"login": login})
    return redirect_after_form(request, reverse("users:list"))


@company_view(perm=permissions.USERS_MANAGE)
@require_GET
def user_permissions_preview(request: PortalRequest) -> HttpResponse:
    """The read-only permission list of the Role tab for the ticked roles (htmx, guide §13.2)."""
    if request.GET.get("no_restrictions"):
        selected = set(BY_CODE)
    else:
        ids = [v for v in request.GET.getlist("roles") if v.isdigit()]
        roles = Role.objects.filter(company=request.company, pk__in=ids)
        selected = {code for role in roles for code in role.permissions}
    return render(request, "accounts/_permission_groups.html", {"groups": permission_groups(selected)})


# -- roles -----------------------------------------------------------------------------------------------------


@company_view(perm=permissions.ROLES_MANAGE)
@require_GET
def role_list(request: PortalRequest) -> HttpResponse:
    return list_response(
        request,
        qs=Role.objects.filter(company=request.company),
        spec=ROLES_LIST,
        template="accounts/role_list.html",
        context={"active_menu": "users", "tab": "roles"},
    )


def _role_form_page(request: PortalRequest, form: RoleForm, role: Role | None) -> HttpResponse:
    templates = Role.objects.filter(company=request.company).exclude(pk=role.pk if role else 0)
    return render_page(
        request,
        "accounts/role_form.html",
        {
            "form": form,
            "role": role,
            "groups": permission_groups(form.selected()),
            "templates": templates,
            "read_only": role is not None and role.is_system,
            "active_menu": "users",
        },
        partial="form",
    )


@company_view(perm=permissions.ROLES_MANAGE)
@require_http_methods(["GET", "POST"])
def role_create(request: PortalRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    template_uuid = request.GET.get("template")
    if template_uuid:
        # Guide §13.5: choosing a template role pre-fills the permission checkboxes.
        template = get_for_company_or_404(Role.objects, company=request.company, uuid=template_uuid)
        initial["permissions"] = list(template.permissions)
    form = RoleForm(request.POST or None, company=request.company, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            role = users_services.role_create(
                company=request.company, actor=request.user, data=_role_data(form)
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Role %(name)s was created.") % {"name": role.name})
            return redirect_after_form(request, reverse("users:roles"))
    return _role_form_page(request, form, None)


def _role_data(form: RoleForm) -> users_services.RoleData:
    return users_services.RoleData(
        name=form.cleaned_data["name"],
        description=form.cleaned_data["description"],
        permissions=frozenset(form.cleaned_data["permissions"]),
    )


@company_view(perm=permissions.ROLES_MANAGE)
@require_http_methods(["GET", "POST"])
def role_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    role = get_for_company_or_404(Role.objects, company=request.company, uuid=uuid)
    initial = {"name": role.name, "description": role.description, "permissions": list(role.permissions)}
    form = RoleForm(request.POST or None, company=request.company, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            users_services.role_update(
                company=request.company, actor=request.user, role=role, data=_role_data(form)
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Role %(name)s was saved.") % {"name": role.name})
            return redirect_after_form(request, reverse("users:roles"))
    return _role_form_page(request, form, role)


@company_view(perm=permissions.ROLES_MANAGE)
@require_POST
def role_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    role = get_for_company_or_404(Role.objects, company=request.company, uuid=uuid)
    name = role.name
    try:
        users_services.role_delete(company=request.company, actor=request.user, role=role)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Role %(name)s was deleted.") % {"name": name})
    return redirect_after_form(request, reverse("users:roles"))
