from django.urls import path

from portal.accounts import account_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("register/", views.register_view, name="register"),
    path("password/change-required/", views.password_required_view, name="password-required"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("password/reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("language/", views.language_view, name="language"),
    # My account (guide §17) and two-factor sign-in
    path("login/verify/", account_views.login_verify, name="login-verify"),
    path("login/verify/send/", account_views.login_verify_send, name="login-verify-send"),
    path("me/", account_views.account_settings, name="account-settings"),
    path("me/basic/", account_views.account_basic_save, name="account-basic"),
    path("me/contact/", account_views.account_contact_save, name="account-contact"),
    path("me/avatar/", account_views.account_avatar_upload, name="account-avatar"),
    path("me/avatar/remove/", account_views.account_avatar_remove, name="account-avatar-remove"),
    path("me/theme/", account_views.theme_set, name="theme"),
    path("avatar/<uuid:user_uuid>/", account_views.avatar_image, name="avatar"),
    path("about/", account_views.about, name="about"),
    path("security/", account_views.security, name="security"),
    path("security/password/", account_views.password_change, name="security-password"),
    path("security/password/generate/", account_views.password_suggest, name="password-generate"),
    path("security/sessions/end-others/", account_views.sessions_end_others, name="sessions-end-others"),
    path("security/sessions/<uuid:session_uuid>/end/", account_views.session_end, name="session-end"),
    path("security/delete/", account_views.account_delete_check, name="account-delete"),
    path("security/delete/confirm/", account_views.account_delete_confirm, name="account-delete-confirm"),
    path("two-factor/", account_views.two_factor_block, name="two-factor"),
    path("two-factor/enrol/", account_views.two_factor_enrol, name="two-factor-enrol"),
    path("two-factor/sms/", account_views.two_factor_sms_start, name="two-factor-sms"),
    path("two-factor/sms/resend/", account_views.two_factor_sms_resend, name="two-factor-sms-resend"),
    path("two-factor/sms/verify/", account_views.two_factor_sms_verify, name="two-factor-sms-verify"),
    path("two-factor/app/", account_views.two_factor_totp_start, name="two-factor-totp"),
    path("two-factor/app/verify/", account_views.two_factor_totp_verify, name="two-factor-totp-verify"),
    path("two-factor/disable/", account_views.two_factor_disable, name="two-factor-disable"),
    path("two-factor/cancel/", account_views.two_factor_cancel, name="two-factor-cancel"),
    path("two-factor/recovery/", account_views.recovery_codes_regenerate, name="two-factor-recovery"),
]
