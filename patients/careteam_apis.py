"""Care team API (issue 17): a patient's contacts (practitioners, agencies, pharmacies,
caregivers) listed, added and changed; their permissions to share recorded and revoked; the
patient's contact preferences and call windows read and replaced. Every role reads; admins,
physicians and coordinators write (a biller gets 403). Rules live in
patients.careteam_services; every answer showing patient data is audited as a read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ccm import audit
from ccm.api import (
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    LocalTimeField,
    RowLock,
    StrictSerializer,
    error_responses,
    page_of,
    paginate,
    read_answer,
    validated,
)
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404
from patients import careteam_selectors, careteam_services
from patients.apis import PatientRowLock
from patients.coverage_apis import JsonBooleanField
from patients.models import (
    CallWindow,
    CallWindowKind,
    CareContact,
    Channel,
    ContactCategory,
    Patient,
    PermissionMethod,
    ShareScope,
    SharingPermission,
    Weekday,
)


def _phone(value: Any) -> str:
    return str(value) if value else ""


@extend_schema_serializer(component_name="SharingPermission")
class PermissionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    contact = serializers.UUIDField(source="contact_id")
    scopes = serializers.ListField(child=EnumField(ShareScope.choices, enum_name="ShareScopeEnum"))
    method = EnumField(PermissionMethod.choices, enum_name="PermissionMethodEnum")
    given_on = serializers.DateField()
    expires_on = serializers.DateField(allow_null=True, help_text="Null: until revoked.")
    revoked_on = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)


@extend_schema_serializer(component_name="CareContact")
class ContactSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    category = EnumField(ContactCategory.choices, enum_name="ContactCategoryEnum")
    name = serializers.CharField()
    role = serializers.CharField()
    organisation = serializers.CharField()
    relationship = serializers.CharField()
    phone = serializers.SerializerMethodField(help_text="E.164, or blank.")
    fax = serializers.SerializerMethodField(help_text="E.164, or blank.")
    secure_email = serializers.CharField()
    language = serializers.CharField()
    is_representative = serializers.BooleanField()
    is_active = serializers.BooleanField()
    note = serializers.CharField()
    permissions = PermissionSerializer(many=True, help_text="Newest first, revoked included.")
    created_at = serializers.DateTimeField(default_timezone=dt.UTC)
    updated_at = serializers.DateTimeField(default_timezone=dt.UTC)

    def get_phone(self, contact: CareContact) -> str:
        return _phone(contact.phone)

    def get_fax(self, contact: CareContact) -> str:
        return _phone(contact.fax)


def _text(max_length: int, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


class _ContactFields(StrictSerializer):
    category = EnumField(ContactCategory.choices, enum_name="ContactCategoryEnum")
    name = serializers.CharField(max_length=200)
    role = _text(100, help_text="Practitioners and agencies, e.g. Cardiologist.")
    organisation = _text(200)
    relationship = _text(100, help_text="Required for caregivers, e.g. Daughter.")
    phone = _text(32)
    fax = _text(32)
    secure_email = serializers.EmailField(
        max_length=254, required=False, allow_blank=True, help_text="A Direct address."
    )
    language = _text(50)
    is_representative = JsonBooleanField(required=False, help_text="Caregivers only.")
    note = _text(500)


@extend_schema_serializer(component_name="CareContactInput")
class ContactInputSerializer(_ContactFields):
    pass


@extend_schema_serializer(component_name="CareContactUpdateInput")
class ContactUpdateSerializer(_ContactFields):
    is_active = JsonBooleanField(required=False, help_text="false: deactivate (kept on record).")


@extend_schema_serializer(component_name="SharingPermissionInput")
class PermissionInputSerializer(StrictSerializer):
    scopes = serializers.ListField(
        child=EnumField(ShareScope.choices, enum_name="ShareScopeEnum"), min_length=1
    )
    method = EnumField(PermissionMethod.choices, enum_name="PermissionMethodEnum")
    given_on = serializers.DateField(required=False, help_text="Default: today; not later.")
    expires_on = serializers.DateField(required=False, allow_null=True)


@extend_schema_serializer(component_name="SharingPermissionRevokeInput")
class RevokeInputSerializer(StrictSerializer):
    revoked_on = serializers.DateField(required=False, help_text="Default: today.")


@extend_schema_serializer(component_name="CallWindow")
class CallWindowSerializer(StrictSerializer):
    kind = EnumField(CallWindowKind.choices, enum_name="CallWindowKindEnum")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        help_text="0 = Monday ... 6 = Sunday.",
    )
    starts_at = LocalTimeField(help_text="In the practice's zone.")
    ends_at = LocalTimeField(help_text="After starts_at, the same day.")
    note = _text(200)


@extend_schema_serializer(component_name="ContactPreferences")
class PreferencesSerializer(serializers.Serializer):
    preferred_channel = EnumField(Channel.choices, enum_name="ChannelEnum")
    preferred_language = serializers.CharField()
    interpreter_needed = serializers.BooleanField()
    call_windows = CallWindowSerializer(many=True)
    call_window_open_now = serializers.BooleanField(help_text="At the practice's local now.")


@extend_schema_serializer(component_name="ContactPreferencesInput")
class PreferencesInputSerializer(StrictSerializer):
    preferred_channel = EnumField(Channel.choices, enum_name="ChannelEnum")
    preferred_language = serializers.CharField(max_length=50, allow_blank=True)
    interpreter_needed = JsonBooleanField()
    call_windows = CallWindowSerializer(
        many=True, help_text="Replaces every call window of the patient."
    )


class PatientContactListApi(ApiView):
    """GET: any role. POST: admins, physicians, coordinators (a biller gets 403)."""

    PageSerializer = page_of(ContactSerializer, "CareContactPage")
    write_capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="patients_contacts_list",
        summary="The patient's care team and caregivers with their permissions (audited)",
        parameters=[*PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        rows = careteam_selectors.contact_list(practice=self.practice, patient_id=patient.pk)
        paginator, page = paginate(self, rows)
        audit.record_for(
            self.membership,
            "carecontact.list",
            object_type=Patient._meta.label_lower,
            object_id=patient.pk,
            patient_id=patient.pk,
        )
        return paginator.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_contacts_create",
        summary="Add a practitioner, agency, pharmacy or caregiver",
        request=ContactInputSerializer,
        responses={201: ContactSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        data = validated(ContactInputSerializer, request.data)
        contact = careteam_services.contact_create(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        contact = _contact(self, contact.pk)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)


def _contact(view: ApiView, contact_id: Any) -> CareContact:
    return get_for_practice_or_404(
        careteam_selectors.contact_list(practice=view.practice), view.practice, contact_id
    )


class ContactDetailApi(ApiView):
    """GET: any role. PATCH (change; `is_active: false` deactivates): admins, physicians,
    coordinators."""

    write_capability = Capability.EDIT_CLINICAL
    version_lock = RowLock(CareContact, "contact_id")  # contact_update locks the contact

    @extend_schema(
        operation_id="contacts_retrieve",
        summary="One contact with its permissions (audited)",
        responses={200: ContactSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, contact_id: str) -> Response:
        contact = _contact(self, contact_id)
        return read_answer(self, contact, ContactSerializer, patient_id=contact.patient_id)

    @extend_schema(
        operation_id="contacts_partial_update",
        summary="Change a contact, deactivate or reactivate it",
        request=ContactUpdateSerializer,
        responses={200: ContactSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, contact_id: str) -> Response:
        contact = _contact(self, contact_id)
        data = validated(ContactUpdateSerializer, request.data, partial=True)
        active = data.pop("is_active", None)
        careteam_services.contact_update(
            practice=self.practice, actor=self.membership, contact=contact, data=data
        )
        if active is not None:
            careteam_services.contact_set_active(
                practice=self.practice, actor=self.membership, contact=contact, active=active
            )
        contact = _contact(self, contact_id)
        return read_answer(self, contact, ContactSerializer, patient_id=contact.patient_id)


class ContactPermissionCreateApi(ApiView):
    """POST: admins, physicians, coordinators record a permission to share."""

    write_capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="contacts_permissions_create",
        summary="Record the patient's permission to share with this contact",
        request=PermissionInputSerializer,
        responses={201: PermissionSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, contact_id: str) -> Response:
        contact = get_for_practice_or_404(CareContact, self.practice, contact_id)
        data = validated(PermissionInputSerializer, request.data)
        permission = careteam_services.permission_create(
            practice=self.practice, actor=self.membership, contact=contact, **data
        )
        return Response(PermissionSerializer(permission).data, status=status.HTTP_201_CREATED)


class PermissionRevokeApi(ApiView):
    """POST: admins, physicians, coordinators revoke a permission (the row stays)."""

    write_capability = Capability.EDIT_CLINICAL

    @extend_schema(
        operation_id="permissions_revoke",
        summary="Revoke a permission to share from `revoked_on` (default today)",
        request=RevokeInputSerializer,
        responses={200: PermissionSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, permission_id: str) -> Response:
        permission = get_for_practice_or_404(SharingPermission, self.practice, permission_id)
        data = validated(RevokeInputSerializer, request.data)
        permission = careteam_services.permission_revoke(
            practice=self.practice, actor=self.membership, permission=permission, **data
        )
        return Response(PermissionSerializer(permission).data)


class PatientPreferencesApi(ApiView):
    """GET: any role. PUT (everything, call windows replaced): admins, physicians,
    coordinators."""

    write_capability = Capability.EDIT_CLINICAL
    version_lock = PatientRowLock()  # preferences_update locks the patient

    def _answer(self, patient: Patient) -> Response:
        windows = list(
            careteam_selectors.call_windows(practice=self.practice, patient_id=patient.pk)
        )
        local_now = dt.datetime.now(tz=self.practice.zone)
        body = {
            "preferred_channel": patient.preferred_channel,
            "preferred_language": patient.preferred_language,
            "interpreter_needed": patient.interpreter_needed,
            "call_windows": [_window(w) for w in windows],
            "call_window_open_now": careteam_selectors.call_window_open(windows, local_now),
        }
        audit.read(self.membership, patient, patient_id=patient.pk)
        return Response(PreferencesSerializer(body).data)

    @extend_schema(
        operation_id="patients_preferences_retrieve",
        summary="The patient's contact preferences and call windows (audited)",
        responses={200: PreferencesSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, patient_id: str) -> Response:
        return self._answer(get_for_practice_or_404(Patient, self.practice, patient_id))

    @extend_schema(
        operation_id="patients_preferences_update",
        summary="Set the patient's contact preferences and replace the call windows",
        request=PreferencesInputSerializer,
        responses={200: PreferencesSerializer, **error_responses(400, 403, 404)},
    )
    def put(self, request: Request, patient_id: str) -> Response:
        patient = get_for_practice_or_404(Patient, self.practice, patient_id)
        data = validated(PreferencesInputSerializer, request.data)
        windows = [dict(w) for w in data.pop("call_windows")]
        patient = careteam_services.preferences_set(
            practice=self.practice,
            actor=self.membership,
            patient=patient,
            data=data,
            windows=windows,
        )
        return self._answer(patient)


def _window(window: CallWindow) -> dict[str, Any]:
    return {
        "kind": window.kind,
        "weekdays": [Weekday(d).value for d in window.weekdays],
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "note": window.note,
    }
