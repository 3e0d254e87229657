"""Core API endpoints: who am I, and the practice's audit log (admins)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ccm import selectors
from ccm.api import PAGE_PARAMETERS, ApiView, error_responses, page_of, paginate, validated
from ccm.models import Role
from ccm.roles import Capability


class MeApi(ApiView):
    @extend_schema_serializer(component_name="Me")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="MeUser")
        class UserSerializer(serializers.Serializer):
            id = serializers.UUIDField()
            email = serializers.EmailField()
            full_name = serializers.CharField()

        @extend_schema_serializer(component_name="MePractice")
        class PracticeSerializer(serializers.Serializer):
            id = serializers.UUIDField()
            name = serializers.CharField()
            slug = serializers.CharField()
            time_zone = serializers.CharField()

        user = UserSerializer()
        practice = PracticeSerializer()
        role = serializers.ChoiceField(choices=Role.choices)
        membership_id = serializers.UUIDField()
        auth = serializers.ChoiceField(choices=["token", "session"])

    @extend_schema(responses=OutputSerializer, summary="The caller: user, practice and role")
    def get(self, request: Request) -> Response:
        # The OutputSerializer's shape (the schema; a test compares the two), written out:
        # building its nested serializers cost more than the rest of this view.
        m = self.membership
        user, practice = m.user, m.practice
        return Response(
            {
                "user": {"id": str(user.id), "email": user.email, "full_name": user.full_name},
                "practice": {
                    "id": str(practice.id),
                    "name": practice.name,
                    "slug": practice.slug,
                    "time_zone": practice.time_zone,
                },
                "role": m.role,
                "membership_id": str(m.id),
                "auth": "token" if request._request.api_token else "session",  # type: ignore[attr-defined]
            }
        )


class AuditEventListApi(ApiView):
    capability = Capability.VIEW_AUDIT

    @extend_schema_serializer(component_name="AuditEventFilter")
    class FilterSerializer(serializers.Serializer):
        user = serializers.UUIDField(required=False)
        patient = serializers.UUIDField(
            required=False,
            help_text="Events about this patient: alone, or among the patients a list showed.",
        )
        action = serializers.CharField(required=False, max_length=64)
        date_from = serializers.DateField(required=False, help_text="First day, inclusive.")
        date_to = serializers.DateField(
            required=False,
            help_text="Last day, inclusive; not before date_from (a reversed range is a 400 "
            "naming date_to, not an empty page that would read as no events).",
        )

    @extend_schema_serializer(component_name="AuditEvent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        actor_id = serializers.UUIDField(allow_null=True)
        actor_email = serializers.CharField()
        role = serializers.CharField()
        action = serializers.CharField()
        object_type = serializers.CharField()
        object_id = serializers.CharField()
        patient_id = serializers.UUIDField(allow_null=True)
        patient_ids = serializers.ListField(
            child=serializers.UUIDField(),
            help_text="A list view's event: every patient it showed (patient_id is then null).",
        )
        ip = serializers.IPAddressField(allow_null=True)
        user_agent = serializers.CharField()
        request_id = serializers.CharField()
        changed_fields = serializers.ListField(child=serializers.CharField())

    PageSerializer = page_of(OutputSerializer, "AuditEventPage")

    @extend_schema(
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(400, 403)},
        summary="The practice's audit log (admins), newest first",
    )
    def get(self, request: Request) -> Response:
        f: dict[str, Any] = validated(self.FilterSerializer, request.query_params)
        events = selectors.audit_event_list(
            practice=self.practice,
            actor_id=f.get("user"),
            patient_id=f.get("patient"),
            action=f.get("action", ""),
            date_from=f.get("date_from"),
            date_to=f.get("date_to"),
        )
        if f.get("date_from") and f.get("date_to") and f["date_from"] > f["date_to"]:
            raise ValidationError({"date_to": ["The end date is before the start date."]})
        paginator, page = paginate(self, events)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
