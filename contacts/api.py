"""``/api/v1/contacts…`` (issue 6 item 8, scope ``recipients``), shaped after seed 004 §1.11 where it fits.

| Method & path | Seed 004 |
|---|---|
| ``GET/POST contacts`` | E095, E096 |
| ``GET/PUT/DELETE contacts/{id}`` | E097-E099 |
| ``GET/POST contacts/tags``, ``GET/DELETE contacts/tags/{id}`` | E105-E107, E109 |
| ``GET contacts/targets``, ``GET contacts/targets/{id}`` (read only) | segments E110/E112 are the closest |
| ``GET/POST contacts/imports``, ``GET contacts/imports/{id}`` | E116-E118 |

Contacts carry their custom attributes **by attribute name** (``{"City": "Madrid"}``); the slot storage stays
internal. The seed's ``identity``, ``gender``, ``birth_date``… are not fields of our contacts: a company keeps
such data in attributes. An import through the API skips the wizard: the first row is a header row (or
``first_row`` says where contacts start), columns map by header text unless ``mapping`` is given, and the import
job starts at once; its status and rejected rows are read with ``GET contacts/imports/{id}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import selectors, services
from contacts.importing import column_letter
from contacts.models import Contact, ContactAttribute, ContactImport, Tag, Target
from contacts.services import imports
from contacts.values import display_value
from portal.api import envelope
from portal.api.authentication import request_access
from portal.api.base import ApiView, RequiresScope
from portal.api.pagination import PortalPagination
from portal.api.schema import ERROR_RESPONSES, enveloped
from portal.tenants.models import Company

SCOPE: list[type[BasePermission]] = [IsAuthenticated, RequiresScope("recipients")]
HEADER_ALIASES = {
    "phone": "phone",
    "phonenumber": "phone",
    "phone number": "phone",
    "name": "first_name",
    "first name": "first_name",
    "first_name": "first_name",
    "surname": "last_name",
    "last name": "last_name",
    "last_name": "last_name",
    "email": "email",
    "e-mail": "email",
}


def _many(serializer: type[serializers.Serializer[Any]], items: Any, **kwargs: Any) -> Any:
    return serializer(items, many=True, **kwargs).data


def _named_errors(company: Company, exc: ValidationError) -> ValidationError:
    """Field errors of attribute slots ("a3") named as the API names them ("attributes.City")."""
    if not hasattr(exc, "error_dict"):
        return exc
    names = {a.key: a.name for a in selectors.attribute_list(company=company)}
    return ValidationError(
        {(f"attributes.{names[k]}" if k in names else k): v for k, v in exc.error_dict.items()}
    )


def _company(request: Request) -> Company:
    return request_access(request).company


def _get(queryset: Any, company: Company, uuid: str) -> Any:
    obj = queryset.filter(company=company, uuid=uuid).first() if _uuid_ok(uuid) else None
    if obj is None:
        raise Http404  # another company's object is a 404, the same as a missing one (CONVENTIONS R5)
    return obj


def _uuid_ok(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _attributes_in(company: Company, values: dict[str, Any]) -> dict[str, Any]:
    """``{"City": "Madrid"}`` → ``{"a1": "Madrid"}``; an unknown name is a field error."""
    by_name = selectors.attribute_by_name(company=company)
    unknown = [name for name in values if name.lower() not in by_name]
    if unknown:
        raise ValidationError({"attributes": [f"Unknown attribute: {name}" for name in unknown]})
    return {by_name[name.lower()].key: value for name, value in values.items()}


class ContactOutputSerializer(serializers.Serializer[Contact]):
    id = serializers.UUIDField(source="uuid")
    phone = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()
    attributes = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    rcs_capable = serializers.BooleanField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_attributes(self, obj: Contact) -> dict[str, Any]:
        attributes: list[ContactAttribute] = self.context["attributes"]
        out = {}
        for attribute in attributes:
            value = display_value(attribute, obj.attribute(attribute))
            if value is not None:
                out[attribute.name] = value.isoformat() if hasattr(value, "isoformat") else value
        return out

    def get_tags(self, obj: Contact) -> list[str]:
        return sorted(t.name for t in obj.tags.all())


class ContactListApi(ApiView):
    """List contacts (E095, filter ``?phone=`` substring and ``?tag=`` name) and create one (E096)."""

    permission_classes = SCOPE

    class InputSerializer(serializers.Serializer[Any]):
        phone = serializers.CharField(max_length=40)
        first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
        last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
        email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
        attributes = serializers.DictField(required=False, default=dict)
        tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)

    @extend_schema(
        operation_id="contacts_list",
        responses={200: ContactOutputSerializer(many=True), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request) -> Response:
        company = _company(request)
        qs = selectors.contact_list(company=company).order_by("-created_at", "-id")
        if request.query_params.get("phone"):
            qs = qs.filter(phone__contains=request.query_params["phone"].strip())
        if request.query_params.get("tag"):
            qs = qs.filter(tags__name__iexact=request.query_params["tag"].strip())
        paginator = PortalPagination()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        context = {"attributes": list(selectors.attribute_list(company=company))}
        return paginator.get_paginated_response(_many(ContactOutputSerializer, page, context=context))

    @extend_schema(
        operation_id="contacts_create",
        request=InputSerializer,
        responses={201: enveloped("Contact", ContactOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def post(self, request: Request) -> Response:
        company = _company(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            contact = services.contact_create(
                company=company,
                actor=request_access(request).created_by,
                data=services.ContactData(
                    phone=values["phone"],
                    first_name=values["first_name"],
                    last_name=values["last_name"],
                    email=values["email"],
                    attributes=_attributes_in(company, values["attributes"]),
                    tags=values.get("tags"),
                ),
            )
        except ValidationError as exc:
            raise _named_errors(company, exc) from exc
        context = {"attributes": list(selectors.attribute_list(company=company))}
        return envelope.ok(
            ContactOutputSerializer(contact, context=context).data,
            message="Subscriber created successfully",
            status=status.HTTP_201_CREATED,
        )


class ContactDetailApi(ApiView):
    """Show (E097), edit (E098: attributes given are set, others kept; ``tags`` replaces the tags) and delete
    (E099) one contact."""

    permission_classes = SCOPE

    class InputSerializer(ContactListApi.InputSerializer):
        first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        email = serializers.CharField(max_length=254, required=False, allow_blank=True)

    def _contact(self, request: Request, uuid: str) -> tuple[Company, Contact]:
        company = _company(request)
        return company, _get(selectors.contact_list(company=company), company, uuid)

    @extend_schema(
        operation_id="contacts_show",
        responses={200: enveloped("Contact", ContactOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request, uuid: str) -> Response:
        company, contact = self._contact(request, uuid)
        context = {"attributes": list(selectors.attribute_list(company=company))}
        return envelope.ok(ContactOutputSerializer(contact, context=context).data)

    @extend_schema(
        operation_id="contacts_update",
        request=InputSerializer,
        responses={200: enveloped("Contact", ContactOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def put(self, request: Request, uuid: str) -> Response:
        company, contact = self._contact(request, uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            contact = services.contact_update(
                company=company,
                actor=request_access(request).created_by,
                contact=contact,
                data=services.ContactData(
                    phone=values["phone"],
                    first_name=values.get("first_name", contact.first_name),
                    last_name=values.get("last_name", contact.last_name),
                    email=values.get("email", contact.email),
                    attributes=_attributes_in(company, values.get("attributes", {})),
                    tags=values.get("tags"),
                ),
            )
        except ValidationError as exc:
            raise _named_errors(company, exc) from exc
        contact = selectors.contact_list(company=company).get(pk=contact.pk)
        context = {"attributes": list(selectors.attribute_list(company=company))}
        return envelope.ok(
            ContactOutputSerializer(contact, context=context).data, message="Subscriber updated successfully"
        )

    @extend_schema(
        operation_id="contacts_delete", responses={200: None, **ERROR_RESPONSES}, tags=["contacts"]
    )
    def delete(self, request: Request, uuid: str) -> Response:
        company, contact = self._contact(request, uuid)
        services.contact_delete(company=company, actor=request_access(request).created_by, contact=contact)
        return envelope.ok(None, message="Subscriber deleted successfully")


class TagOutputSerializer(serializers.Serializer[Tag]):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField()
    contacts = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_contacts(self, obj: Tag) -> int:
        return obj.contacts.count()


class TagListApi(ApiView):
    """List tags (E105) and create one (E106)."""

    permission_classes = SCOPE

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100)

    @extend_schema(
        operation_id="contacts_tags_list",
        responses={200: TagOutputSerializer(many=True), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request) -> Response:
        paginator = PortalPagination()
        page = paginator.paginate_queryset(selectors.tag_list(company=_company(request)), request, view=self)
        return paginator.get_paginated_response(_many(TagOutputSerializer, page or []))

    @extend_schema(
        operation_id="contacts_tags_create",
        request=InputSerializer,
        responses={201: enveloped("Tag", TagOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.tag_create(
            company=_company(request),
            actor=request_access(request).created_by,
            name=data.validated_data["name"],
        )
        return envelope.ok(
            TagOutputSerializer(tag).data, message="Tag created successfully", status=status.HTTP_201_CREATED
        )


class TagDetailApi(ApiView):
    """Show (E107), rename (E108) and delete (E109) a tag; its contacts stay."""

    permission_classes = SCOPE

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100)

    @extend_schema(
        operation_id="contacts_tags_show",
        responses={200: enveloped("Tag", TagOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request, uuid: str) -> Response:
        company = _company(request)
        return envelope.ok(TagOutputSerializer(_get(selectors.tag_list(company=company), company, uuid)).data)

    @extend_schema(
        operation_id="contacts_tags_update",
        request=InputSerializer,
        responses={200: enveloped("Tag", TagOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def put(self, request: Request, uuid: str) -> Response:
        company = _company(request)
        tag = _get(selectors.tag_list(company=company), company, uuid)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = services.tag_rename(
            company=company,
            actor=request_access(request).created_by,
            tag=tag,
            name=data.validated_data["name"],
        )
        return envelope.ok(TagOutputSerializer(tag).data, message="Tag updated successfully")

    @extend_schema(
        operation_id="contacts_tags_delete", responses={200: None, **ERROR_RESPONSES}, tags=["contacts"]
    )
    def delete(self, request: Request, uuid: str) -> Response:
        company = _company(request)
        tag = _get(selectors.tag_list(company=company), company, uuid)
        services.tag_delete(company=company, actor=request_access(request).created_by, tag=tag)
        return envelope.ok(None, message="Tag deleted successfully")


class TargetOutputSerializer(serializers.Serializer[Target]):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField()
    filters = serializers.SerializerMethodField()
    launches = serializers.IntegerField()
    contacts = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_filters(self, obj: Target) -> list[str]:
        return services.target_filters_described(obj.company, obj)

    def get_contacts(self, obj: Target) -> int | None:
        try:
            count, _capped = selectors.target_count(company=obj.company, filters=obj.filters)
        except Exception:  # a filter on a deleted attribute: no count rather than a failed list
            return None
        return count


class TargetListApi(ApiView):
    """Targets, read only (guide §8.3): name, filters as text, launches and the current contact count."""

    permission_classes = SCOPE

    @extend_schema(
        operation_id="contacts_targets_list",
        responses={200: TargetOutputSerializer(many=True), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request) -> Response:
        qs = selectors.target_list(company=_company(request)).select_related("company").order_by("name")
        paginator = PortalPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(_many(TargetOutputSerializer, page or []))


class TargetDetailApi(ApiView):
    permission_classes = SCOPE

    @extend_schema(
        operation_id="contacts_targets_show",
        responses={200: enveloped("Target", TargetOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request, uuid: str) -> Response:
        company = _company(request)
        target = _get(selectors.target_list(company=company).select_related("company"), company, uuid)
        return envelope.ok(TargetOutputSerializer(target).data)


class ImportOutputSerializer(serializers.Serializer[ContactImport]):
    id = serializers.UUIDField(source="uuid")
    file_name = serializers.CharField()
    status = serializers.CharField()
    duplicates = serializers.CharField()
    progress = serializers.SerializerMethodField()
    rows = serializers.IntegerField(source="rows_total")
    imported = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejected_rows = serializers.SerializerMethodField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_progress(self, obj: ContactImport) -> int:
        if obj.is_finished:
            return 100
        return int(imports.import_progress(obj)["percent"])

    def get_rejected_rows(self, obj: ContactImport) -> list[dict[str, Any]]:
        """The first rejected rows (the whole list is in the portal's CSV report)."""
        return [{"row": r[0], "phone": r[1], "reason": r[2]} for r in (obj.preview or {}).get("rejected", [])]


class ImportListApi(ApiView):
    """List imports (E116) and start one (E117): upload, map by header, check and import in the background."""

    permission_classes = SCOPE
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField()
        duplicates = serializers.ChoiceField(
            choices=ContactImport.Duplicates.choices, default=ContactImport.Duplicates.SKIP
        )
        tag = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        first_row = serializers.IntegerField(min_value=1, default=2)
        mapping = serializers.JSONField(
            required=False,
            help_text='Column letter → "phone", "first_name", "last_name", "email" or an attribute name; '
            "default: by the header row's texts.",
        )

    @extend_schema(
        operation_id="contacts_imports_list",
        responses={200: ImportOutputSerializer(many=True), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request) -> Response:
        paginator = PortalPagination()
        page = paginator.paginate_queryset(
            selectors.import_list(company=_company(request)), request, view=self
        )
        return paginator.get_paginated_response(_many(ImportOutputSerializer, page or []))

    @extend_schema(
        operation_id="contacts_imports_start",
        request={"multipart/form-data": InputSerializer},
        responses={202: enveloped("ContactImport", ImportOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def post(self, request: Request) -> Response:
        company = _company(request)
        actor = request_access(request).created_by
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = values["file"]
        with transaction.atomic():
            contact_import = imports.import_upload(
                company=company, actor=actor, file=upload, name=upload.name or "", tag_name=values["tag"]
            )
            imports.import_first_row_set(
                company=company, actor=actor, contact_import=contact_import, first_row=values["first_row"]
            )
            mapping = _api_mapping(company, contact_import, values.get("mapping"))
            contact_import.duplicates = values["duplicates"]
            # The API has no step 5: the import job follows the check at once (auto_run).
            contact_import.auto_run = True
            imports.import_mapping_set(
                company=company, actor=actor, contact_import=contact_import, mapping=mapping
            )
        contact_import.refresh_from_db()
        return envelope.ok(
            ImportOutputSerializer(contact_import).data,
            message="Import started",
            status=status.HTTP_202_ACCEPTED,
        )


def _api_mapping(company: Company, contact_import: ContactImport, given: Any) -> dict[int, str]:
    by_name = selectors.attribute_by_name(company=company)

    def target(text: str) -> str:
        key = " ".join(str(text).split()).lower()
        if key in HEADER_ALIASES:
            return HEADER_ALIASES[key]
        attribute = by_name.get(key)
        return attribute.key if attribute is not None else ""

    if given:
        if not isinstance(given, dict):
            raise ValidationError({"mapping": ["Give an object of column letter → field."]})
        letters = {column_letter(i): i for i in range(contact_import.columns)}
        mapping: dict[int, str] = {}
        for letter, field in given.items():
            index = letters.get(str(letter).upper())
            name = target(str(field))
            if index is None or not name:
                raise ValidationError({"mapping": [f"{letter}: unknown column or field {field!r}."]})
            mapping[index] = name
        return mapping
    first = contact_import.first_row
    header = (
        contact_import.sample[first - 2] if first >= 2 and len(contact_import.sample) >= first - 1 else []
    )
    return {i: name for i, text in enumerate(header) if (name := target(text))}


class ImportDetailApi(ApiView):
    """Status of one import (E118): progress, counters and the first rejected rows with their reasons."""

    permission_classes = SCOPE

    @extend_schema(
        operation_id="contacts_imports_show",
        responses={200: enveloped("ContactImport", ImportOutputSerializer), **ERROR_RESPONSES},
        tags=["contacts"],
    )
    def get(self, request: Request, uuid: str) -> Response:
        company = _company(request)
        return envelope.ok(
            ImportOutputSerializer(_get(selectors.import_list(company=company), company, uuid)).data
        )


# Included by portal/api/urls.py under /api/v1/ (CONVENTIONS R9).
urlpatterns = [
    path("contacts", ContactListApi.as_view(), name="contacts"),
    path("contacts/tags", TagListApi.as_view(), name="contacts-tags"),
    path("contacts/tags/<uuid:uuid>", TagDetailApi.as_view(), name="contacts-tag"),
    path("contacts/targets", TargetListApi.as_view(), name="contacts-targets"),
    path("contacts/targets/<uuid:uuid>", TargetDetailApi.as_view(), name="contacts-target"),
    path("contacts/imports", ImportListApi.as_view(), name="contacts-imports"),
    path("contacts/imports/<uuid:uuid>", ImportDetailApi.as_view(), name="contacts-import"),
    path("contacts/<uuid:uuid>", ContactDetailApi.as_view(), name="contact"),
]
