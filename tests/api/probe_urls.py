"""A test-only URLconf: small endpoints that exercise the /api/v1 plumbing the way product endpoints will.

Product endpoints with scopes and object ids (messages, contacts, …) arrive with their apps; until then these
probes prove that a scope is enforced (403), another tenant's object is a 404, lists page in the seed 004 §2.7
shape, and validation, malformed JSON, product-rule and unexpected errors all leave in the envelope.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api import envelope
from portal.api.authentication import request_company
from portal.api.base import ApiView, RequiresScope
from portal.api.models import ApiAccess
from portal.api.pagination import PortalPagination
from portal.api.selectors import api_access_get, api_access_list
from portal.core.exceptions import ApplicationError


class AccessOutputSerializer(serializers.Serializer[ApiAccess]):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField()


class ProbeDetailApi(ApiView):
    permission_classes = [IsAuthenticated, RequiresScope("omni-api")]

    def get(self, request: Request, uuid: UUID) -> Response:
        access = api_access_get(company=request_company(request), uuid=uuid)
        return envelope.ok(AccessOutputSerializer(access).data)


class ProbeListApi(ApiView):
    permission_classes = [IsAuthenticated, RequiresScope("crm")]

    def get(self, request: Request) -> Response:
        paginator = PortalPagination()
        page = paginator.paginate_queryset(
            api_access_list(company=request_company(request)).order_by("name", "id"), request, view=self
        )
        rows = AccessOutputSerializer(page or [], many=True).data  # type: ignore[arg-type]
        return paginator.get_paginated_response(rows)


class ProbeWriteApi(ApiView):
    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=10)
        count = serializers.IntegerField(min_value=1)

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["name"] == "rule":
            raise ApplicationError("The product refuses this.")
        if serializer.validated_data["name"] == "crash":
            raise RuntimeError("boom with secret details")
        return envelope.ok(serializer.validated_data, status=202, message="Accepted")


urlpatterns = [
    path("api/v1/_probe/accesses/<uuid:uuid>", ProbeDetailApi.as_view()),
    path("api/v1/_probe/accesses", ProbeListApi.as_view()),
    path("api/v1/_probe/write", ProbeWriteApi.as_view()),
    path("", include("portal.urls")),
]
