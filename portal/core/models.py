"""Abstract bases every app builds on: time stamps, public UUIDs and tenant scoping (CONVENTIONS R5)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Self, TypeVar

from django.contrib.postgres.fields import ArrayField
from django.db import models

if TYPE_CHECKING:
    from portal.tenants.models import Company

_M = TypeVar("_M", bound=models.Model)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TenantQuerySet(models.QuerySet[_M]):
    def for_company(self, company: Company) -> Self:
        return self.filter(company=company)


class TenantModel(TimeStampedModel):
    """A row owned by one company. Child rows carry the company too, so every query can filter on it."""

    company = models.ForeignKey("tenants.Company", on_delete=models.PROTECT, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class PublicIdMixin(models.Model):
    """Public identifier for URLs and the API; the integer primary key stays internal."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        abstract = True


class ListPreference(TenantModel):
    """The columns a user chose for one list ("Custom view" / column picker, guide §7.1 and §13.1)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    list_key = models.CharField(max_length=64)
    columns = ArrayField(models.CharField(max_length=64), default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "user", "list_key"], name="listpref_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.list_key} columns of user {self.user_id}"
