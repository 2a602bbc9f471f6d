"""The one settings module (CONVENTIONS R11).

Every value comes from ``portal.env`` with an embedded default that works on a development machine with
PostgreSQL and Redis on 127.0.0.1. Production overrides them through environment variables; ``.env.example``
lists every one of them and a test keeps that file in sync with this module.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import django_stubs_ext
from django.utils.translation import gettext_lazy as _

from portal.env import env_bool, env_int, env_list, env_secret, env_str

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

# Guarded by the deploy check in portal/core/checks.py: this value must never reach production.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105
SECRET_KEY = env_secret("SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "portal.core",
    "portal.tenants",
    "portal.accounts",
    "portal.audit",
    "portal.api",
    "portal.dashboard",
    "channels_out",
    "contacts",
    "broadcasts",
    "conversations",
    "chatbots",
    "assets",
    "finance",
    "twofa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "channels_out.hooks.HookFastPathMiddleware",  # vendor callbacks skip the page middleware (issue 5)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.audit.context.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.accounts.middleware.IdleTimeoutMiddleware",
    "portal.tenants.middleware.CompanyMiddleware",
    "portal.accounts.middleware.PasswordChangeRequiredMiddleware",
    "portal.accounts.middleware.TwoFactorEnrolmentRequiredMiddleware",
    "portal.accounts.middleware.SessionActivityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.core.context_processors.shell",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env_str("DB_NAME", "portal"),
        "USER": env_str("DB_USER", "portal"),
        "PASSWORD": env_secret("DB_PASSWORD", ""),
        "HOST": env_str("DB_HOST", "127.0.0.1"),
        "PORT": env_int("DB_PORT", 5432),
        "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": env_str("DB_TEST_NAME", "test_portal")},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/1")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal",
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)

# Guide Appendix 2: length 8, three of four character classes, not one of the last 7 passwords.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "portal.accounts.validators.CharacterClassesValidator"},
    {"NAME": "portal.accounts.validators.PasswordHistoryValidator"},
]

# Portal account policy (guide Appendix 2); the numbers are platform settings the System owner may change.
PORTAL_PASSWORD_HISTORY = env_int("PORTAL_PASSWORD_HISTORY", 7)
PORTAL_PASSWORD_MAX_AGE_DAYS = env_int("PORTAL_PASSWORD_MAX_AGE_DAYS", 60)
PORTAL_PASSWORD_MIN_AGE_HOURS = env_int("PORTAL_PASSWORD_MIN_AGE_HOURS", 24)
PORTAL_INACTIVITY_LOCK_DAYS = env_int("PORTAL_INACTIVITY_LOCK_DAYS", 30)
PORTAL_SESSION_IDLE_MINUTES = env_int("PORTAL_SESSION_IDLE_MINUTES", 60)
PORTAL_LOGIN_MAX_FAILURES = env_int("PORTAL_LOGIN_MAX_FAILURES", 5)
PORTAL_LOGIN_LOCKOUT_MINUTES = env_int("PORTAL_LOGIN_LOCKOUT_MINUTES", 15)
PORTAL_REMEMBER_ME_DAYS = env_int("PORTAL_REMEMBER_ME_DAYS", 14)
PORTAL_DOCS_URL = env_str("PORTAL_DOCS_URL", "/static/docs/user-guide.html")
PORTAL_SUPPORT_EMAIL = env_str("PORTAL_SUPPORT_EMAIL", "support@example.com")
PORTAL_VERSION = env_str("PORTAL_VERSION", "0.1.0")
# My account (guide §17): avatar limit and two-factor sign-in codes.
PORTAL_AVATAR_MAX_BYTES = env_int("PORTAL_AVATAR_MAX_BYTES", 2 * 1024 * 1024)
# Dotted path of the class that sends 2FA SMS codes; the default simulator only records them (accounts/otp.py).
PORTAL_OTP_SMS_SENDER = env_str("PORTAL_OTP_SMS_SENDER", "portal.accounts.otp.ChannelSender")
PORTAL_OTP_SMS_SENDER_ID = env_str("PORTAL_OTP_SMS_SENDER_ID", "")
PORTAL_OTP_ISSUER = env_str("PORTAL_OTP_ISSUER", "Client portal")
PORTAL_OTP_TTL_SECONDS = env_int("PORTAL_OTP_TTL_SECONDS", 300)
PORTAL_OTP_RESEND_SECONDS = env_int("PORTAL_OTP_RESEND_SECONDS", 60)
PORTAL_OTP_MAX_ATTEMPTS = env_int("PORTAL_OTP_MAX_ATTEMPTS", 5)
PORTAL_2FA_MAX_FAILURES = env_int("PORTAL_2FA_MAX_FAILURES", 5)

SESSION_COOKIE_AGE = PORTAL_REMEMBER_ME_DAYS * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Español"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@example.com")

# Celery (R7): JSON only, hard and soft limits, explicit queues. The beat schedule lives in portal/celery.py.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/0")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = "default"

# /api/v1 (portal/api, CONVENTIONS R9): API-key authentication, one error envelope, per-key rate limits.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.PortalAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["portal.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PortalPagination",
    "PAGE_SIZE": 15,
    "EXCEPTION_HANDLER": "portal.api.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Never None: middleware that runs after a view may read request.user.is_authenticated.
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Omnichannel portal API",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# HMAC key of the stored API-key hashes. Empty = derived from SECRET_KEY; set it in production so that rotating
# SECRET_KEY does not revoke every API key (changing the pepper does exactly that).
PORTAL_API_KEY_PEPPER = (
    env_secret("PORTAL_API_KEY_PEPPER", "")
    or hashlib.sha256(f"portal.api.key-pepper:{SECRET_KEY}".encode()).hexdigest()
)
# Seed 004 §2.4: 1000 GET requests per minute per key; writes get their own budget (seed 004 §5.4).
PORTAL_API_RATE_WINDOW_SECONDS = env_int("PORTAL_API_RATE_WINDOW_SECONDS", 60)
PORTAL_API_RATE_LIMIT_GET = env_int("PORTAL_API_RATE_LIMIT_GET", 1000)
PORTAL_API_RATE_LIMIT_WRITE = env_int("PORTAL_API_RATE_LIMIT_WRITE", 300)

# Channel layer (channels_out, CONVENTIONS R6): the adapter classes to register and the default for new
# connections; then the message pipeline's knobs (issue 5).
CHANNEL_ADAPTERS = env_list(
    "CHANNEL_ADAPTERS",
    "channels_out.vendors.simulator.adapter.SimulatorAdapter,"
    "channels_out.vendors.cpaas.adapter.CpaasAdapter,"
    "channels_out.vendors.rbm.adapter.RbmRcsAdapter,"
    "channels_out.vendors.fcm.adapter.FcmPushAdapter,"
    "channels_out.vendors.appsdk.adapter.AppSdkMobilePushAdapter,"
    "channels_out.vendors.smtp.adapter.SmtpEmailAdapter",
)
CHANNEL_DEFAULT_ADAPTER = env_str("CHANNEL_DEFAULT_ADAPTER", "simulator")
PORTAL_SUBMIT_BATCH_SIZE = env_int("PORTAL_SUBMIT_BATCH_SIZE", 100)
PORTAL_SUBMIT_LEASE_SECONDS = env_int("PORTAL_SUBMIT_LEASE_SECONDS", 120)
PORTAL_SUBMIT_MAX_ATTEMPTS = env_int("PORTAL_SUBMIT_MAX_ATTEMPTS", 5)
PORTAL_CALLBACK_BATCH_SIZE = env_int("PORTAL_CALLBACK_BATCH_SIZE", 500)
PORTAL_BREAKER_FAILURES = env_int("PORTAL_BREAKER_FAILURES", 5)
PORTAL_BREAKER_WINDOW_SECONDS = env_int("PORTAL_BREAKER_WINDOW_SECONDS", 60)
PORTAL_BREAKER_COOLDOWN_SECONDS = env_int("PORTAL_BREAKER_COOLDOWN_SECONDS", 30)
PORTAL_MESSAGE_VALIDITY_HOURS = env_int("PORTAL_MESSAGE_VALIDITY_HOURS", 72)
PORTAL_SMS_MAX_SEGMENTS = env_int("PORTAL_SMS_MAX_SEGMENTS", 10)
# Vendor HTTP (channels_out/http.py): timeouts, tries in total and the first back-off step, in milliseconds.
PORTAL_VENDOR_HTTP_CONNECT_TIMEOUT_MS = env_int("PORTAL_VENDOR_HTTP_CONNECT_TIMEOUT_MS", 3050)
PORTAL_VENDOR_HTTP_READ_TIMEOUT_MS = env_int("PORTAL_VENDOR_HTTP_READ_TIMEOUT_MS", 10000)
PORTAL_VENDOR_HTTP_MAX_ATTEMPTS = env_int("PORTAL_VENDOR_HTTP_MAX_ATTEMPTS", 3)
PORTAL_VENDOR_HTTP_BACKOFF_MS = env_int("PORTAL_VENDOR_HTTP_BACKOFF_MS", 200)
# The portal's public base URL, for links that leave it (e-mail open-tracking pixels).
PORTAL_PUBLIC_URL = env_str("PORTAL_PUBLIC_URL", "http://localhost:8000")
# Customer webhooks of the send API (seed 004 §2.8.1): answer within the timeout, retried after these delays (s).
PORTAL_WEBHOOK_TIMEOUT_MS = env_int("PORTAL_WEBHOOK_TIMEOUT_MS", 3000)
PORTAL_WEBHOOK_RETRY_DELAYS = env_list("PORTAL_WEBHOOK_RETRY_DELAYS", "10,100")
PORTAL_API_IDEMPOTENCY_HOURS = env_int("PORTAL_API_IDEMPOTENCY_HOURS", 24)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Seed 004 §2.2: a key sent as ?access_token= must not reach the logs.
    "filters": {"redact_api_keys": {"()": "portal.api.log_redaction.RedactApiKeysFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_api_keys"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines carry the query string; route them through the redacting handler.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
