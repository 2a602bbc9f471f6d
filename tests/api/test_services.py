"""API access services on the real database (guide §15): validation, key storage, audit, regenerate, delete."""

from __future__ import annotations

import json
import logging
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import override_settings

from portal.accounts.models import User
from portal.api import keys
from portal.api.log_redaction import RedactApiKeysFilter
from portal.api.models import ApiAccess
from portal.api.selectors import api_access_for_key, api_access_list
from portal.api.services import (
    api_access_create,
    api_access_delete,
    api_access_mark_used,
    api_access_regenerate_key,
    api_access_update,
)
from portal.audit import actions
from portal.audit.models import AuditDetail, AuditEntry
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company
from tests.api.conftest import MakeKey


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_create_returns_a_64_hex_key_and_stores_only_its_prefix_and_hmac(
    company: Company, admin_user: User
) -> None:
    issued = api_access_create(
        company=company, actor=admin_user, name="CRM sync", scopes=["crm"], webhook_url="https://x.example/h"
    )
    access = ApiAccess.objects.get(pk=issued.access.pk)
    assert re.fullmatch(r"[0-9a-f]{64}", issued.key)
    assert access.key_prefix == issued.key[:12]
    assert access.key_hash != issued.key
    assert len(access.key_hash) == 64
    assert access.key_hash == keys.key_hash(issued.key)
    stored = " ".join(str(v) for v in ApiAccess.objects.filter(pk=access.pk).values().get().values())
    assert issued.key not in stored
    assert access.created_by == admin_user
    assert access.company == company


def test_each_key_is_new_random_material(company: Company, make_key: MakeKey) -> None:
    generated = {make_key(company).key for _ in range(5)}
    assert len(generated) == 5


def test_issued_key_repr_does_not_show_the_key(issued: object) -> None:
    assert getattr(issued, "key") not in repr(issued)  # noqa: B009  (the point is the repr)


def test_create_names_every_bad_field(company: Company) -> None:
    with pytest.raises(ValidationError) as exc:
        api_access_create(
            company=company,
            actor=None,
            name="  ",
            scopes=[],
            webhook_url="gmail.com",
            senders=["A" * 65],
        )
    errors = _errors(exc)
    assert errors["name"] == ["Enter a name for the API access."]
    assert errors["scopes"] == ["Choose at least one scope."]
    assert errors["webhook_url"] == [
        "Enter a full webhook URL starting with http:// or https://, e.g. https://example.com/hook."
    ]
    assert errors["senders"] == [f"Sender ID “{'A' * 65}” is longer than 64 characters."]
    assert not ApiAccess.objects.exists()


def test_unknown_scope_is_named_with_the_valid_ones(company: Company) -> None:
    with pytest.raises(ValidationError) as exc:
        api_access_create(company=company, actor=None, name="K", scopes=["omni-api", "sms"])
    assert _errors(exc)["scopes"] == [
        "Unknown scope: sms. Choose from recipients, broadcast, crm, omni-api, dids."
    ]


def test_webhook_must_be_http_or_https(company: Company) -> None:
    with pytest.raises(ValidationError, match="starting with http:// or https://"):
        api_access_create(
            company=company, actor=None, name="K", scopes=["crm"], webhook_url="ftp://x.example/"
        )


def test_scopes_are_normalized_and_senders_deduplicated(company: Company) -> None:
    access = api_access_create(
        company=company,
        actor=None,
        name="K",
        scopes=["CRM", "omni-api", "crm", "recipients"],
        senders=[" ACME ", "ACME", "", "Shop"],
    ).access
    assert access.scopes == ["recipients", "crm", "omni-api"]  # the guide's order
    assert access.senders == ["ACME", "Shop"]


def test_names_are_unique_per_company_ignoring_case(
    company: Company, other_company: Company, make_key: MakeKey
) -> None:
    make_key(company, name="Shop")
    with pytest.raises(ValidationError) as exc:
        api_access_create(company=company, actor=None, name="shop", scopes=["crm"])
    assert _errors(exc)["name"] == ["An API access named “shop” already exists."]
    make_key(other_company, name="Shop")  # another tenant may use the same name


def test_create_is_audited_without_the_key(company: Company, admin_user: User) -> None:
    issued = api_access_create(company=company, actor=admin_user, name="K", scopes=["dids"], senders=["S1"])
    entry = AuditEntry.objects.get(company=company, action=actions.API_KEY_CREATED)
    assert actions.label(entry.action) == "Created API key"
    assert entry.actor == admin_user
    detail = entry.details.get()
    assert detail.operation == AuditDetail.Operation.INSERT
    assert detail.new_value == {
        "name": "K",
        "scopes": ["dids"],
        "webhook_url": "",
        "senders": ["S1"],
        "key_prefix": issued.key[:12],
    }


def test_update_records_only_the_changed_fields(company: Company, issued: object, admin_user: User) -> None:
    access = getattr(issued, "access")  # noqa: B009
    api_access_update(
        company=company,
        actor=admin_user,
        access=access,
        name="Shop backend",
        scopes=["omni-api"],
        webhook_url="https://shop.example/dlr",
        senders=["ACME"],
    )
    entry = AuditEntry.objects.get(company=company, action=actions.API_KEY_CHANGED)
    assert actions.label(entry.action) == "Changed API key"
    detail = entry.details.get()
    assert detail.old_value == {"scopes": ["crm", "omni-api"], "webhook_url": ""}
    assert detail.new_value == {"scopes": ["omni-api"], "webhook_url": "https://shop.example/dlr"}
    access.refresh_from_db()
    assert access.scopes == ["omni-api"]


def test_update_without_changes_writes_no_audit_entry(company: Company, make_key: MakeKey) -> None:
    access = make_key(company, name="Same", scopes=("crm",)).access
    api_access_update(company=company, actor=None, access=access, name="Same", scopes=["crm"])
    assert not AuditEntry.objects.filter(action=actions.API_KEY_CHANGED).exists()


def test_update_keeps_its_own_name_but_refuses_a_taken_one(company: Company, make_key: MakeKey) -> None:
    make_key(company, name="Taken")
    access = make_key(company, name="Mine").access
    api_access_update(company=company, actor=None, access=access, name="MINE", scopes=["crm"])
    with pytest.raises(ValidationError, match=r"An API access named “taken” already exists\."):
        api_access_update(company=company, actor=None, access=access, name="taken", scopes=["crm"])


def test_writes_on_another_companys_access_are_refused(
    company: Company, other_company: Company, make_key: MakeKey
) -> None:
    access = make_key(other_company).access
    message = "This API access belongs to another company."
    with pytest.raises(ApplicationError, match=message):
        api_access_update(company=company, actor=None, access=access, name="X", scopes=["crm"])
    with pytest.raises(ApplicationError, match=message):
        api_access_regenerate_key(company=company, actor=None, access=access)
    with pytest.raises(ApplicationError, match=message):
        api_access_delete(company=company, actor=None, access=access)
    assert ApiAccess.objects.filter(pk=access.pk).exists()


def test_regenerate_replaces_the_key_at_once(company: Company, make_key: MakeKey, admin_user: User) -> None:
    first = make_key(company)
    assert api_access_for_key(key=first.key) == first.access
    second = api_access_regenerate_key(company=company, actor=admin_user, access=first.access)
    assert second.key != first.key
    assert api_access_for_key(key=first.key) is None
    assert api_access_for_key(key=second.key) == first.access
    entry = AuditEntry.objects.get(action=actions.API_KEY_REGENERATED)
    assert actions.label(entry.action) == "Regenerated API key"
    detail = entry.details.get()
    assert detail.old_value == {"key_prefix": first.key[:12]}
    assert detail.new_value == {"key_prefix": second.key[:12]}


def test_delete_removes_the_access_and_its_key(company: Company, make_key: MakeKey) -> None:
    issued = make_key(company, name="Gone")
    api_access_delete(company=company, actor=None, access=issued.access)
    assert api_access_for_key(key=issued.key) is None
    entry = AuditEntry.objects.get(action=actions.API_KEY_DELETED)
    assert actions.label(entry.action) == "Deleted API key"
    old_value = entry.details.get().old_value
    assert isinstance(old_value, dict)
    assert old_value["name"] == "Gone"


def test_the_key_and_its_hash_never_reach_the_audit_rows(company: Company, make_key: MakeKey) -> None:
    issued = make_key(company, name="Secret keeper")
    access = issued.access
    secrets_seen = [issued.key, access.key_hash]
    api_access_update(company=company, actor=None, access=access, name="Renamed", scopes=["crm"])
    regenerated = api_access_regenerate_key(company=company, actor=None, access=access)
    secrets_seen += [regenerated.key, access.key_hash]
    api_access_delete(company=company, actor=None, access=access)
    dump = json.dumps(list(AuditDetail.objects.filter(company=company).values("old_value", "new_value")))
    dump += json.dumps(list(AuditEntry.objects.filter(company=company).values()), default=str)
    assert AuditDetail.objects.filter(company=company).count() == 4
    for secret in secrets_seen:
        assert secret not in dump
    assert "key_hash" not in dump


def test_key_lookup_refuses_wrong_malformed_and_deactivated_keys(company: Company, make_key: MakeKey) -> None:
    issued = make_key(company)
    wrong_tail = issued.key[:12] + ("0" if issued.key[12] != "0" else "1") + issued.key[13:]
    assert api_access_for_key(key=wrong_tail) is None  # same prefix, wrong key
    assert api_access_for_key(key=issued.key.upper()) is None
    assert api_access_for_key(key=issued.key[:40]) is None
    assert api_access_for_key(key="") is None
    company.is_active = False
    company.save()
    assert api_access_for_key(key=issued.key) is None


def test_changing_the_pepper_revokes_every_key(company: Company, make_key: MakeKey) -> None:
    issued = make_key(company)
    with override_settings(PORTAL_API_KEY_PEPPER="another-pepper"):
        assert api_access_for_key(key=issued.key) is None
    assert api_access_for_key(key=issued.key) == issued.access


def test_last_used_is_refreshed_at_most_once_a_minute(company: Company, make_key: MakeKey) -> None:
    access = make_key(company).access
    with time_machine.travel("2026-03-01 10:00:00+00:00", tick=False):
        api_access_mark_used(access=access)
    first = ApiAccess.objects.get(pk=access.pk).last_used_at
    assert first is not None
    assert first.isoformat() == "2026-03-01T10:00:00+00:00"
    with time_machine.travel("2026-03-01 10:00:30+00:00", tick=False):
        api_access_mark_used(access=access)
    assert ApiAccess.objects.get(pk=access.pk).last_used_at == first
    with time_machine.travel("2026-03-01 10:01:30+00:00", tick=False):
        api_access_mark_used(access=access)
    assert ApiAccess.objects.get(pk=access.pk).last_used_at != first


def test_list_holds_only_the_company_accesses_newest_first(
    company: Company, other_company: Company, make_key: MakeKey
) -> None:
    make_key(company, name="Billing", scopes=("crm",))
    make_key(company, name="Shop", scopes=("dids",), webhook_url="https://billing.example/h")
    make_key(other_company, name="Billing")
    assert [a.name for a in api_access_list(company=company)] == ["Shop", "Billing"]


def test_log_filter_masks_a_key_in_a_query_string() -> None:
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s',
        ("GET /api/v1/auth/me?access_token=abc123&x=1", 200),
        None,
    )
    assert RedactApiKeysFilter().filter(record)
    assert record.getMessage() == '"GET /api/v1/auth/me?access_token=********&x=1" 200'
