"""My account (guide §17): Account settings, Privacy and Security, Appearance, About, two-factor sign-in.

Pages are made of named partials (CONVENTIONS R8). A block's edit state is a GET with ``?edit=<state>``, so
every button also works as a plain link; htmx asks for one block with ``?block=<name>`` and gets only it.
Form errors re-render the block with status 200; success re-renders it (htmx) or redirects with 303.
"""

from __future__ import annotations

import contextlib
import platform
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import django
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts import lockout, otp, services, twofactor
from portal.accounts.account_forms import (
    AvatarForm,
    BasicInfoForm,
    CodeForm,
    ContactInfoForm,
    DeleteConfirmForm,
    DeletePasswordForm,
    PhoneForm,
    SignInCodeForm,
)
from portal.accounts.forms import PasswordChangeForm
from portal.accounts.models import Membership, OneTimeCode, User, UserSession
from portal.accounts.passgen import password_generate
from portal.accounts.selectors import (
    membership_for_session,
    recovery_codes_remaining,
    two_factor_get,
    user_password_matches,
    user_session_list,
)
from portal.audit.context import client_ip
from portal.core.exceptions import ApplicationError
from portal.core.htmx import is_fragment_request, next_url, redirect_after_form, render_page
from portal.core.request import PortalRequest
from portal.tenants.access import company_view

SETTINGS_TEMPLATE = "accounts/account_settings.html"
SECURITY_TEMPLATE = "accounts/security.html"
ENROL_TEMPLATE = "accounts/two_factor_enrol.html"
VERIFY_TEMPLATE = "accounts/login_verify.html"

PENDING_SIGN_IN_KEY = "portal_2fa_pending"
RECOVERY_ONCE_KEY = "portal_recovery_codes_once"
DELETE_STEP_KEY = "portal_delete_password_ok"
# The second sign-in step and the second delete step must follow the first one closely.
PENDING_SIGN_IN_SECONDS = 600
DELETE_STEP_SECONDS = 600


def _block(request: HttpRequest, allowed: set[str], default: str) -> str:
    name = request.GET.get("block") or request.POST.get("block") or default
    return name if name in allowed else default


# --- Account settings (guide §17.1) ---------------------------------------------------------------------------


def _settings_context(request: PortalRequest, *, edit: str | None = None, **forms: Any) -> dict[str, Any]:
    user = request.user
    membership: Membership = request.membership
    return {
        "active_menu": "account",
        "account": user,
        "roles": list(membership.roles.order_by("name").values_list("name", flat=True)),
        "department": membership.department,
        "edit": edit,
        "basic_form": forms.get("basic_form")
        or BasicInfoForm(
            initial={"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
        ),
        "contact_form": forms.get("contact_form") or ContactInfoForm(initial={"phone": user.phone}),
        "avatar_form": forms.get("avatar_form") or AvatarForm(),
        "saved": forms.get("saved"),
        "avatar_max_mb": int(settings.PORTAL_AVATAR_MAX_BYTES) / (1024 * 1024),
    }


_SETTINGS_BLOCKS = {"profile", "basic", "contact", "content"}


@company_view()
@require_GET
def account_settings(request: PortalRequest) -> HttpResponse:
    edit = request.GET.get("edit")
    context = _settings_context(request, edit=edit if edit in ("basic", "contact") else None)
    return render_page(
        request, SETTINGS_TEMPLATE, context, partial=_block(request, _SETTINGS_BLOCKS, "content")
    )


def _settings_done(request: PortalRequest, block: str, message: str) -> HttpResponse:
    if is_fragment_request(request):
        return render_page(request, SETTINGS_TEMPLATE, _settings_context(request, saved=block), partial=block)
    messages.success(request, message)
    return redirect_after_form(request, reverse("accounts:account-settings"))


def _settings_error(request: PortalRequest, block: str, **forms: Any) -> HttpResponse:
    request.user.refresh_from_db()  # the service may have touched the instance before refusing
    context = _settings_context(request, edit=block if block != "profile" else None, **forms)
    return render_page(request, SETTINGS_TEMPLATE, context, partial=block)


@company_view()
@require_POST
def account_basic_save(request: PortalRequest) -> HttpResponse:
    form = BasicInfoForm(request.POST)
    if form.is_valid():
        try:
            services.user_profile_update(
                user=request.user, actor=request.user, company=request.company, **form.cleaned_data
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            return _settings_done(request, "basic", _("Basic information saved."))
    return _settings_error(request, "basic", basic_form=form)


@company_view()
@require_POST
def account_contact_save(request: PortalRequest) -> HttpResponse:
    form = ContactInfoForm(request.POST)
    if form.is_valid():
        try:
            services.user_contact_update(
                user=request.user,
                actor=request.user,
                company=request.company,
                phone=form.cleaned_data["phone"],
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            return _settings_done(request, "contact", _("Contact information saved."))
    return _settings_error(request, "contact", contact_form=form)


@company_view()
@require_POST
def account_avatar_upload(request: PortalRequest) -> HttpResponse:
    form = AvatarForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.user_avatar_set(
                user=request.user, company=request.company, upload=form.cleaned_data["avatar"]
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            # The avatar also shows in the shell's user menu, so the whole page reloads.
            messages.success(request, _("Your picture has been updated."))
            return redirect_after_form(request, reverse("accounts:account-settings"))
    return _settings_error(request, "profile", avatar_form=form)


@company_view()
@require_POST
def account_avatar_remove(request: PortalRequest) -> HttpResponse:
    services.user_avatar_remove(user=request.user, company=request.company)
    messages.success(request, _("Your picture has been removed."))
    return redirect_after_form(request, reverse("accounts:account-settings"))


@company_view()
@require_GET
def avatar_image(request: PortalRequest, user_uuid: uuid.UUID) -> HttpResponse:
    """Serve an avatar to the user and to people of the same company (media is not public)."""
    if user_uuid == request.user.uuid:
        owner: User | None = request.user
    else:
        owner = User.objects.filter(
            uuid=user_uuid, memberships__company=request.company, is_active=True
        ).first()
    if owner is None or not owner.avatar:
        raise Http404("No avatar")
    try:
        with owner.avatar.open("rb") as handle:
            data = handle.read()  # a 256 px PNG of a few KB (see services.user_avatar_set)
    except FileNotFoundError as exc:
        raise Http404("No avatar") from exc
    response = HttpResponse(data, content_type="image/png")
    # The URL carries the file name (?v=...), which changes with each upload.
    response["Cache-Control"] = "private, max-age=86400"
    return response


# --- Appearance, About (guide §17 menu) -----------------------------------------------------------------------


def _back(request: HttpRequest) -> str:
    return next_url(request, "/")


@company_view()
@require_POST
def theme_set(request: PortalRequest) -> HttpResponse:
    """Guide §17 "Appearance": Light theme, Dark theme or System settings, kept on the account."""
    try:
        services.user_preferences_update(
            user=request.user, company=request.company, theme=request.POST.get("theme", "")
        )
    except ValidationError:
        return HttpResponse(_("Unknown theme."), status=400)
    if request.headers.get("X-Requested-With") == "fetch" or is_fragment_request(request):
        return HttpResponse(status=204)
    return redirect(_back(request))


@company_view()
@require_GET
def about(request: PortalRequest) -> HttpResponse:
    """Guide §17 "About the App": a short technical summary of the System version."""
    context = {
        "active_menu": "account",
        "version": settings.PORTAL_VERSION,
        "django_version": django.get_version(),
        "python_version": platform.python_version(),
    }
    return render_page(request, "accounts/about.html", context, partial="about")


# --- Privacy and Security (guide §17.2) -----------------------------------------------------------------------


_SECURITY_BLOCKS = {"password", "twofactor", "sessions", "delete", "content"}
_TWO_FACTOR_EDITS = {"sms", "sms-change", "sms-disable", "totp-disable"}


def _device_label(user_agent: str) -> str:
    """A short "Browser on System" label; the full user agent stays in the title attribute."""
    ua = user_agent.lower()
    browser = next(
        (
            name
            for key, name in (
                ("edg/", "Edge"),
                ("opr/", "Opera"),
                ("firefox/", "Firefox"),
                ("chrome/", "Chrome"),
                ("chromium/", "Chromium"),
                ("safari/", "Safari"),
            )
            if key in ua
        ),
        "",
    )
    system = next(
        (
            name
            for key, name in (
                ("android", "Android"),
                ("iphone", "iOS"),
                ("ipad", "iPadOS"),
                ("windows", "Windows"),
                ("mac os", "macOS"),
                ("linux", "Linux"),
            )
            if key in ua
        ),
        "",
    )
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("Unknown device")


def _two_factor_context(
    request: PortalRequest, *, edit: str | None, enrol: bool, **forms: Any
) -> dict[str, Any]:
    user = request.user
    tf = two_factor_get(user=user)
    context: dict[str, Any] = {
        "tf": tf,
        "tf_edit": edit if edit in _TWO_FACTOR_EDITS else None,
        "enrol": enrol,
        "phone_form": forms.get("phone_form") or PhoneForm(),
        "code_form": forms.get("code_form") or CodeForm(),
        "totp_form": forms.get("totp_form") or CodeForm(),
        "tf_error": forms.get("tf_error"),
        "tf_notice": forms.get("tf_notice"),
        "recovery_left": recovery_codes_remaining(user=user) if tf is not None and tf.enabled else 0,
        "resend_wait": twofactor.code_resend_wait(user=user, purpose=OneTimeCode.Purpose.ENROL),
        "block_url": reverse("accounts:two-factor"),
    }
    if tf is not None and tf.totp_pending_secret:
        uri = otp.totp_provisioning_uri(secret=tf.totp_pending_secret, account=user.username)
        context["totp_qr"] = otp.qr_data_uri(uri)
        secret = tf.totp_pending_secret
        context["totp_secret_grouped"] = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    codes = request.session.pop(RECOVERY_ONCE_KEY, None)
    if isinstance(codes, list) and codes:
        context["recovery_codes"] = codes
        context["recovery_download"] = "data:text/plain;charset=utf-8," + quote(
            _("Recovery codes for %(login)s. Each works once.") % {"login": user.username}
            + "\n\n"
            + "\n".join(codes)
            + "\n"
        )
    return context


def _security_context(request: PortalRequest, *, edit: str | None = None, **forms: Any) -> dict[str, Any]:
    delete_ok = request.session.get(DELETE_STEP_KEY)
    delete_step = 0
    if edit == "delete":
        fresh = isinstance(delete_ok, int) and time.time() - delete_ok < DELETE_STEP_SECONDS
        delete_step = 2 if fresh else 1
    context = {
        "active_menu": "account",
        "edit": edit,
        "password_form": forms.get("password_form") or PasswordChangeForm(user=request.user),
        "delete_password_form": forms.get("delete_password_form") or DeletePasswordForm(),
        "delete_confirm_form": forms.get("delete_confirm_form") or DeleteConfirmForm(),
        "delete_step": forms.get("delete_step") or delete_step,
        "delete_word": services.ACCOUNT_DELETE_WORD,
        "sessions": [
            {
                "row": row,
                "device": _device_label(row.user_agent),
                "current": row.session_key == request.session.session_key,
            }
            for row in user_session_list(user=request.user)
        ],
        "saved": forms.get("saved"),
    }
    context.update(_two_factor_context(request, edit=edit, enrol=False, **forms))
    return context


@company_view()
@require_GET
def security(request: PortalRequest) -> HttpResponse:
    context = _security_context(request, edit=request.GET.get("edit"))
    return render_page(
        request, SECURITY_TEMPLATE, context, partial=_block(request, _SECURITY_BLOCKS, "content")
    )


@sensitive_post_parameters()
@company_view()
@require_POST
def password_change(request: PortalRequest) -> HttpResponse:
    """Guide §17.2 "Change password": current, new (or Generate), confirm; Appendix 2 applies."""
    user = request.user
    form = PasswordChangeForm(request.POST, user=user)
    if form.is_valid():
        try:
            services.password_change(
                user=user,
                actor=user,
                company=request.company,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            # The session hash follows the new password, so this browser stays signed in.
            update_session_auth_hash(request, user)
            if is_fragment_request(request):
                context = _security_context(request, saved="password")
                return render_page(request, SECURITY_TEMPLATE, context, partial="password")
            messages.success(request, _("Your password has been changed."))
            return redirect_after_form(request, reverse("accounts:security"))
    context = _security_context(request, edit="password", password_form=form)
    return render_page(request, SECURITY_TEMPLATE, context, partial="password")


@never_cache
@company_view()
@require_GET
def password_suggest(request: PortalRequest) -> JsonResponse:
    """The "Generate" button: a strong password that the policy accepts for this user."""
    return JsonResponse({"password": password_generate(user=request.user)})


@company_view()
@require_POST
def sessions_end_others(request: PortalRequest) -> HttpResponse:
    count = services.user_sessions_end(
        user=request.user, company=request.company, keep_session_key=request.session.session_key
    )
    return _sessions_done(request, _("Signed out %(n)d other sessions.") % {"n": count})


@company_view()
@require_POST
def session_end(request: PortalRequest, session_uuid: uuid.UUID) -> HttpResponse:
    row = UserSession.objects.filter(user=request.user, uuid=session_uuid).first()
    if row is None or row.session_key == request.session.session_key:
        raise Http404("No such session")
    services.user_sessions_end(
        user=request.user,
        company=request.company,
        keep_session_key=request.session.session_key,
        session_uuid=session_uuid,
    )
    return _sessions_done(request, _("The session has been signed out."))


def _sessions_done(request: PortalRequest, message: str) -> HttpResponse:
    if is_fragment_request(request):
        context = _security_context(request, saved=message)
        return render_page(request, SECURITY_TEMPLATE, context, partial="sessions")
    messages.success(request, message)
    return redirect_after_form(request, reverse("accounts:security") + "#security-sessions")


@sensitive_post_parameters()
@company_view()
@require_POST
def account_delete_check(request: PortalRequest) -> HttpResponse:
    """Danger zone step 1: the current password, then Continue."""
    user = request.user
    form = DeletePasswordForm(request.POST)
    if form.is_valid():
        ip = client_ip(request)
        if lockout.is_locked_out(user.username, ip):
            form.add_error(
                None,
                _("Too many wrong passwords. Try again in %(m)d minutes.")
                % {"m": settings.PORTAL_LOGIN_LOCKOUT_MINUTES},
            )
        elif not user_password_matches(user=user, password=form.cleaned_data["current_password"]):
            lockout.register_failure(user.username, ip)
            form.add_error("current_password", _("The current password is not correct."))
        else:
            request.session[DELETE_STEP_KEY] = int(time.time())
            if not is_fragment_request(request):
                return redirect_after_form(
                    request, reverse("accounts:security") + "?edit=delete#security-delete"
                )
            context = _security_context(request, edit="delete")
            return render_page(request, SECURITY_TEMPLATE, context, partial="delete")
    context = _security_context(request, edit="delete", delete_password_form=form, delete_step=1)
    return render_page(request, SECURITY_TEMPLATE, context, partial="delete")


@company_view()
@require_POST
def account_delete_confirm(request: PortalRequest) -> HttpResponse:
    """Danger zone step 2: type ``delete-account`` exactly, then Delete (permanent)."""
    passed = request.session.get(DELETE_STEP_KEY)
    if not (isinstance(passed, int) and time.time() - passed < DELETE_STEP_SECONDS):
        context = _security_context(request, edit="delete", delete_step=1)
        context["delete_error"] = _("Enter your current password first.")
        return render_page(request, SECURITY_TEMPLATE, context, partial="delete")
    form = DeleteConfirmForm(request.POST)
    if form.is_valid():
        try:
            services.user_account_delete(user=request.user, confirmation=form.cleaned_data["confirmation"])
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            logout(request)
            messages.info(request, _("Your account has been deleted."))
            return redirect_after_form(request, reverse("accounts:login"))
    context = _security_context(request, edit="delete", delete_confirm_form=form, delete_step=2)
    return render_page(request, SECURITY_TEMPLATE, context, partial="delete")


# --- Two-factor set-up (guide §17.2), on Privacy and Security and on the forced enrolment page ------------------


def _is_enrol(request: HttpRequest) -> bool:
    return (request.POST.get("enrol") or request.GET.get("enrol")) == "1"


def _two_factor_render(
    request: PortalRequest, *, edit: str | None = None, status_ok: bool = True, **forms: Any
) -> HttpResponse:
    """Answer a two-factor action: the block for htmx, else the page it came from (errors) or a redirect."""
    enrol = _is_enrol(request)
    if is_fragment_request(request):
        context = _two_factor_context(request, edit=edit, enrol=enrol, **forms)
        return render_page(request, SECURITY_TEMPLATE, context, partial="twofactor")
    if status_ok:
        if forms.get("tf_notice"):
            messages.success(request, forms["tf_notice"])
        target = reverse("accounts:two-factor-enrol") if enrol else reverse("accounts:security")
        return redirect_after_form(request, target + "#two-factor")
    if enrol:
        context = _two_factor_context(request, edit=edit, enrol=True, **forms)
        return render(request, ENROL_TEMPLATE, context)
    context = _security_context(request, edit=edit, **forms)
    return render(request, SECURITY_TEMPLATE, context)


@company_view()
@require_GET
def two_factor_block(request: PortalRequest) -> HttpResponse:
    edit = request.GET.get("edit")
    if not is_fragment_request(request):
        page = "accounts:two-factor-enrol" if _is_enrol(request) else "accounts:security"
        query = f"?edit={edit}" if edit in _TWO_FACTOR_EDITS else ""
        return redirect(reverse(page) + query + "#two-factor")
    context = _two_factor_context(request, edit=edit, enrol=_is_enrol(request))
    return render_page(request, SECURITY_TEMPLATE, context, partial="twofactor")


@company_view()
@require_POST
def two_factor_sms_start(request: PortalRequest) -> HttpResponse:
    form = PhoneForm(request.POST)
    if form.is_valid():
        try:
            twofactor.two_factor_sms_start(
                user=request.user, company=request.company, phone=form.cleaned_data["phone"]
            )
        except ValidationError as exc:
            # "Asked again too soon" is about this phone: show it under the phone field.
            errors = getattr(exc, "error_dict", {})
            form.add_error("phone", errors.get("phone") or errors.get("code") or exc.messages)
        else:
            return _two_factor_render(request, tf_notice=_("We sent a verification code to this phone."))
    return _two_factor_render(request, edit="sms", status_ok=False, phone_form=form)


@company_view()
@require_POST
def two_factor_sms_resend(request: PortalRequest) -> HttpResponse:
    try:
        twofactor.two_factor_sms_resend(user=request.user, company=request.company)
    except ValidationError as exc:
        return _two_factor_render(request, status_ok=False, tf_error=" ".join(exc.messages))
    return _two_factor_render(request, tf_notice=_("We sent a new verification code."))


@company_view()
@require_POST
def two_factor_sms_verify(request: PortalRequest) -> HttpResponse:
    return _two_factor_confirm(
        request, twofactor.two_factor_sms_confirm, _("Two-factor authentication by SMS is on."), "code_form"
    )


@company_view()
@require_POST
def two_factor_totp_start(request: PortalRequest) -> HttpResponse:
    twofactor.two_factor_totp_start(user=request.user)
    return _two_factor_render(request)


@company_view()
@require_POST
def two_factor_totp_verify(request: PortalRequest) -> HttpResponse:
    return _two_factor_confirm(
        request, twofactor.two_factor_totp_confirm, _("The authenticator app is on."), "totp_form"
    )


def _two_factor_confirm(
    request: PortalRequest, confirm: Callable[..., list[str]], notice: str, form_name: str
) -> HttpResponse:
    """Check the code that switches a method on; the first method also shows the new recovery codes once."""
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            codes = confirm(user=request.user, company=request.company, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            if codes:
                request.session[RECOVERY_ONCE_KEY] = codes
            return _two_factor_render(request, tf_notice=notice)
    forms: dict[str, Any] = {form_name: form}
    return _two_factor_render(request, status_ok=False, **forms)


@company_view()
@require_POST
def two_factor_disable(request: PortalRequest) -> HttpResponse:
    method = request.POST.get("method", "")
    try:
        twofactor.two_factor_disable(user=request.user, company=request.company, method=method)
    except ApplicationError as exc:
        return _two_factor_render(request, status_ok=False, tf_error=exc.message)
    except ValidationError as exc:
        return _two_factor_render(request, status_ok=False, tf_error=" ".join(exc.messages))
    notice = (
        _("Two-factor authentication by SMS is off.")
        if method == "sms"
        else _("The authenticator app is off.")
    )
    return _two_factor_render(request, tf_notice=notice)


@company_view()
@require_POST
def two_factor_cancel(request: PortalRequest) -> HttpResponse:
    twofactor.two_factor_cancel(user=request.user)
    return _two_factor_render(request)


@company_view()
@require_POST
def recovery_codes_regenerate(request: PortalRequest) -> HttpResponse:
    try:
        codes = twofactor.recovery_codes_regenerate(user=request.user, company=request.company)
    except ApplicationError as exc:
        return _two_factor_render(request, status_ok=False, tf_error=exc.message)
    request.session[RECOVERY_ONCE_KEY] = codes
    return _two_factor_render(
        request, tf_notice=_("New recovery codes are ready. The old ones no longer work.")
    )


@company_view()
@require_GET
def two_factor_enrol(request: PortalRequest) -> HttpResponse:
    """``Company.require_2fa``: the only page (with its actions) until the user has two-factor sign-in."""
    context = _two_factor_context(request, edit=request.GET.get("edit"), enrol=True)
    tf = context["tf"]
    if tf is not None and tf.enabled and "recovery_codes" not in context:
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, ENROL_TEMPLATE, context)


# --- Sign-in second step ---------------------------------------------------------------------------------------


def two_factor_challenge(
    request: HttpRequest, user: User, *, remember: bool, next_url: str
) -> HttpResponse | None:
    """After a correct password: when the user has 2FA, keep the sign-in pending and ask for the code.

    Returns None when the user has no second factor (the caller signs in at once).
    """
    tf = two_factor_get(user=user)
    if tf is None or not tf.enabled:
        return None
    request.session.cycle_key()  # a fresh key for the half-signed-in state
    request.session[PENDING_SIGN_IN_KEY] = {
        "uid": user.pk,
        "remember": remember,
        "next": next_url,
        "at": int(time.time()),
    }
    if tf.sms_enabled and not tf.totp_enabled:
        membership = membership_for_session(user=user, membership_id=None)
        # A code sent a moment ago is still valid, or the user is throttled: the next page says what to do.
        with contextlib.suppress(ValidationError, ApplicationError):
            twofactor.two_factor_sign_in_sms_send(
                user=user, company=membership.company if membership else None
            )
    return redirect("accounts:login-verify")


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    data = request.session.get(PENDING_SIGN_IN_KEY)
    if not isinstance(data, dict) or time.time() - int(data.get("at", 0)) > PENDING_SIGN_IN_SECONDS:
        request.session.pop(PENDING_SIGN_IN_KEY, None)
        return None
    uid = data.get("uid")
    user = User.objects.filter(pk=uid, is_active=True).first() if isinstance(uid, int) else None
    if user is None:
        request.session.pop(PENDING_SIGN_IN_KEY, None)
        return None
    return user, data


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request: HttpRequest) -> HttpResponse:
    """Sign-in step 2 (guide §17.2 [INF]): the code from SMS or the authenticator app, or a recovery code."""
    from portal.accounts.views import _complete_sign_in

    pending = _pending_user(request)
    if pending is None:
        messages.info(request, _("Your sign-in has expired. Sign in again."))
        return redirect("accounts:login")
    user, data = pending
    membership = membership_for_session(user=user, membership_id=None)
    company = membership.company if membership else None
    form = SignInCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.sign_in_check(user=user)
            twofactor.two_factor_sign_in_verify(user=user, company=company, code=form.cleaned_data["code"])
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            request.session.pop(PENDING_SIGN_IN_KEY, None)
            return _complete_sign_in(request, user, remember=bool(data.get("remember")))
    tf = two_factor_get(user=user)
    context = {
        "form": form,
        "tf": tf,
        "next": data.get("next", ""),
        "resend_wait": twofactor.code_resend_wait(user=user, purpose=OneTimeCode.Purpose.SIGN_IN),
    }
    return render(request, VERIFY_TEMPLATE, context)


@require_POST
def login_verify_send(request: HttpRequest) -> HttpResponse:
    """Send (again) the sign-in code by SMS."""
    pending = _pending_user(request)
    if pending is None:
        return redirect("accounts:login")
    user, _data = pending
    membership = membership_for_session(user=user, membership_id=None)
    try:
        twofactor.two_factor_sign_in_sms_send(user=user, company=membership.company if membership else None)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("We sent a new code to your phone."))
    return redirect("accounts:login-verify")
