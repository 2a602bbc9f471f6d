"""Guard (CONVENTIONS R5): every concrete model of the project is tenant-scoped or on a reviewed allow-list."""

from __future__ import annotations

from django.apps import apps

from portal.core.models import TenantModel

PROJECT_APPS = {
    "core", "tenants", "accounts", "audit", "api", "dashboard", "channels_out", "contacts", "broadcasts",
    "conversations", "chatbots", "assets", "finance", "twofa",
}  # fmt: skip

# Reviewed: each of these is platform-wide on purpose.
GLOBAL_MODELS = {
    "tenants.Company",  # the tenant itself
    "accounts.User",  # a login is unique per platform (guide §13.2); its seats are tenant Memberships
    "accounts.PasswordHistory",  # belongs to a User, not to a company
    "accounts.TwoFactor",  # a login's second factor is per User (platform-wide login), not per company
    "accounts.OneTimeCode",  # SMS codes of a User's second factor
    "accounts.RecoveryCode",  # recovery codes of a User's second factor
    "accounts.UserSession",  # a User's signed-in browsers; a session is not tied to one company
}


def test_every_model_is_tenant_scoped_or_allow_listed() -> None:
    offenders = []
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS or model._meta.abstract:
            continue
        label = f"{model._meta.app_label}.{model.__name__}"
        if not issubclass(model, TenantModel) and label not in GLOBAL_MODELS:
            offenders.append(label)
    assert offenders == [], f"Not tenant-scoped and not allow-listed: {offenders}"


def test_allow_list_names_only_existing_models() -> None:
    existing = {f"{m._meta.app_label}.{m.__name__}" for m in apps.get_models()}
    assert existing >= GLOBAL_MODELS


def test_tenant_models_index_starts_with_company() -> None:
    """List pages filter by company first, so every declared index of a tenant model must start with it."""
    bad = [
        f"{model.__name__}.{index.name}"
        for model in apps.get_models()
        if issubclass(model, TenantModel)
        for index in model._meta.indexes
        if index.fields and index.fields[0].lstrip("-") != "company"
    ]
    assert bad == []
