"""Sign-in, sign-out, password reset and forced password change (guide §3/§4, Appendix 2)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts import lockout, services
from portal.accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    PasswordResetSetForm,
)
from portal.accounts.models import User
from portal.audit.context import client_ip
from portal.core.htmx import next_url
from portal.tenants.middleware import SESSION_KEY

# Lazy: a module-level constant is built at import, before any request has chosen a language.
GENERIC_LOGIN_ERROR = gettext_lazy("Incorrect login or password.")


def _safe_next(request: HttpRequest) -> str:
    return next_url(request, reverse(settings.LOGIN_REDIRECT_URL))


def _activate_language(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login_name = form.cleaned_data["login"]
        ip = client_ip(request)
        if lockout.is_locked_out(login_name, ip):
            form.add_error(
                None,
                _("Too many failed sign-in attempts. Try again in %(m)d minutes.")
                % {"m": settings.PORTAL_LOGIN_LOCKOUT_MINUTES},
            )
        else:
            user = authenticate(request, username=login_name, password=form.cleaned_data["password"])
            if not isinstance(user, User):
                # The same message whether or not the login exists (no account enumeration).
                lockout.register_failure(login_name, ip)
                services.sign_in_failed_record(login=login_name)
                form.add_error(None, GENERIC_LOGIN_ERROR)
            else:
                try:
                    services.sign_in_check(user=user)
                except services.SignInRefusedError as exc:
                    form.add_error(None, exc.message)
                else:
                    from portal.accounts.account_views import two_factor_challenge

                    remember = form.cleaned_data["remember_me"]
                    # Guide §17.2 [INF]: with 2FA on, the code step follows the password.
                    challenge = two_factor_challenge(
                        request, user, remember=remember, next_url=request.POST.get("next", "")
                    )
                    return challenge or _complete_sign_in(request, user, remember=remember)
    return render(request, "accounts/login.html", {"form": form, "next": request.GET.get("next", "")})


def _complete_sign_in(request: HttpRequest, user: User, *, remember: bool) -> HttpResponse:
    from portal.accounts.selectors import membership_for_session

    lockout.clear_failures(user.username)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    # Guide §3: "Remember me" keeps the session across browser restarts; the idle timeout still applies.
    request.session.set_expiry(None if remember else 0)
    membership = membership_for_session(user=user, membership_id=None)
    if membership is not None:
        request.session[SESSION_KEY] = membership.pk
    services.sign_in_record(user=user, company=membership.company if membership else None)
    return _activate_language(redirect(_safe_next(request)), user.language)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.sign_out_record(user=request.user, company=getattr(request, "company", None))
    logout(request)
    messages.info(request, _("You have signed out."))
    return redirect("accounts:login")


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "POST"])
def password_required_view(request: HttpRequest) -> HttpResponse:
    """Guide Appendix 2 §4/§6: the only page reachable while the password must be changed."""
    if not request.user.is_authenticated:
        return redirect("accounts:login")
    user = request.user
    assert isinstance(user, User)  # noqa: S101  (the auth model is always User)
    form = PasswordChangeForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                user=user,
                actor=user,
                company=getattr(request, "company", None),
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, _("Your password has been changed."))
            return redirect(settings.LOGIN_REDIRECT_URL)
    if user.must_change_password:
        reason = _("Your password was set by an administrator.")
    else:
        reason = _("Your password is older than %(d)d days.") % {"d": settings.PORTAL_PASSWORD_MAX_AGE_DAYS}
    return render(request, "accounts/password_required.html", {"form": form, "reason": reason})


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetRequestForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = PasswordResetSetForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; a signed-in user keeps the choice on the account."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponse(_("Unknown language."), status=400)
    if request.user.is_authenticated:
        services.user_preferences_update(
            user=request.user,
            company=getattr(request, "company", None),
            language=language,
        )
    return _activate_language(redirect(next_url(request, "/")), language)


@require_GET
def register_view(request: HttpRequest) -> HttpResponse:
    """Guide §3 shows a Register link; accounts are issued by the provider, so the page says how to get one."""
    return render(request, "accounts/register.html", {"support_email": settings.PORTAL_SUPPORT_EMAIL})
