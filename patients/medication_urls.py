"""Routes of the medication list: the pages (included by patients/urls.py under /patients/)
and the API (`api_urlpatterns`, included by ccm/api_urls.py under /api/)."""

from typing import Any

from django.urls import path

from patients import medication_apis, medication_views

urlpatterns: list[Any] = [
    path(
        "<uuid:patient_id>/medications/new/",
        medication_views.medication_new,
        name="medication-new",
    ),
    path(
        "<uuid:patient_id>/medications/reconcile/",
        medication_views.medication_reconcile,
        name="medication-reconcile",
    ),
    path(
        "<uuid:patient_id>/medications/<uuid:medication_id>/edit/",
        medication_views.medication_edit,
        name="medication-edit",
    ),
    path(
        "<uuid:patient_id>/medications/<uuid:medication_id>/stop/",
        medication_views.medication_stop,
        name="medication-stop",
    ),
]

api_urlpatterns: list[Any] = [
    path(
        "v1/patients/<uuid:patient_id>/medications/",
        medication_apis.PatientMedicationListApi.as_view(),
        name="patient-medications",
    ),
    path(
        "v1/patients/<uuid:patient_id>/medication-reconciliations/",
        medication_apis.PatientReconciliationListApi.as_view(),
        name="patient-medication-reconciliations",
    ),
    path(
        "v1/medications/<uuid:medication_id>/",
        medication_apis.MedicationDetailApi.as_view(),
        name="medication-detail",
    ),
]
