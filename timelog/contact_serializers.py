"""The contact fields of the API (issue 17): shared by the contact attempt API and the task
completion's PATCH (timelog/apis.py), which records the call's outcome in the same step."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from ccm.api import EnumField, StrictSerializer, reference_or_404
from patients.models import CareContact, Channel
from timelog.contact_services import ContactInput
from timelog.models import Direction, Outcome, Party


@extend_schema_serializer(component_name="ContactFields")
class ContactFieldsSerializer(StrictSerializer):
    outcome = EnumField(Outcome.choices, enum_name="ContactOutcomeEnum")
    direction = EnumField(
        Direction.choices, enum_name="ContactDirectionEnum", required=False, default="outbound"
    )
    channel = EnumField(Channel.choices, enum_name="ChannelEnum", required=False, default="phone")
    party = EnumField(
        Party.choices, enum_name="ContactPartyEnum", required=False, default="patient"
    )
    contact = serializers.UUIDField(
        required=False, allow_null=True, help_text="One of the patient's care contacts."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


def contact_input(practice: Any, data: dict[str, Any]) -> ContactInput:
    """The validated contact fields as the services take them (the care contact looked up in
    the practice: another practice's is a 404 naming the field)."""
    contact = None
    if data.get("contact") is not None:
        contact = reference_or_404(CareContact, practice, data["contact"], field="contact")
    return ContactInput(
        outcome=data["outcome"],
        direction=data.get("direction") or Direction.OUTBOUND,
        channel=data.get("channel") or Channel.PHONE,
        party=data.get("party") or Party.PATIENT,
        contact=contact,
        note=data.get("note", ""),
    )
