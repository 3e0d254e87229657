"""Routes of the care team, permissions to share and contact preferences: the pages
(included by patients/urls.py under /patients/) and the API (`api_urlpatterns`, included by
ccm/api_urls.py under /api/)."""

from typing import Any

from django.urls import path

from patients import careteam_apis, careteam_views

_CONTACT = "<uuid:patient_id>/contacts/<uuid:contact_id>"

urlpatterns: list[Any] = [
    path("<uuid:patient_id>/contacts/new/", careteam_views.contact_new, name="contact-new"),
    path(f"{_CONTACT}/edit/", careteam_views.contact_edit, name="contact-edit"),
    path(f"{_CONTACT}/active/", careteam_views.contact_active, name="contact-active"),
    path(f"{_CONTACT}/permissions/new/", careteam_views.permission_new, name="permission-new"),
    path(
        f"{_CONTACT}/permissions/<uuid:permission_id>/revoke/",
        careteam_views.permission_revoke,
        name="permission-revoke",
    ),
    path(
        "<uuid:patient_id>/preferences/",
        careteam_views.preferences_edit,
        name="preferences-edit",
    ),
    path(
        "<uuid:patient_id>/preferences/windows/",
        careteam_views.call_window_new,
        name="call-window-new",
    ),
    path(
        "<uuid:patient_id>/preferences/windows/<uuid:window_id>/delete/",
        careteam_views.call_window_delete,
        name="call-window-delete",
    ),
]

api_urlpatterns: list[Any] = [
    path(
        "v1/patients/<uuid:patient_id>/contacts/",
        careteam_apis.PatientContactListApi.as_view(),
        name="patient-contacts",
    ),
    path(
        "v1/contacts/<uuid:contact_id>/",
        careteam_apis.ContactDetailApi.as_view(),
        name="contact-detail",
    ),
    path(
        "v1/contacts/<uuid:contact_id>/permissions/",
        careteam_apis.ContactPermissionCreateApi.as_view(),
        name="contact-permissions",
    ),
    path(
        "v1/permissions/<uuid:permission_id>/revoke/",
        careteam_apis.PermissionRevokeApi.as_view(),
        name="permission-revoke",
    ),
    path(
        "v1/patients/<uuid:patient_id>/preferences/",
        careteam_apis.PatientPreferencesApi.as_view(),
        name="patient-preferences",
    ),
]
