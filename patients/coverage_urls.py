"""Routes of patients' coverage: the pages (included by patients/urls.py under /patients/)
and the API (`api_urlpatterns`, included by ccm/api_urls.py under /api/)."""

from typing import Any

from django.urls import path

from patients import coverage_apis, coverage_views

urlpatterns: list[Any] = [
    path("<uuid:patient_id>/coverage/new/", coverage_views.coverage_new, name="coverage-new"),
    path(
        "<uuid:patient_id>/coverage/<uuid:coverage_id>/edit/",
        coverage_views.coverage_edit,
        name="coverage-edit",
    ),
    path(
        "<uuid:patient_id>/coverage/<uuid:coverage_id>/end/",
        coverage_views.coverage_end,
        name="coverage-end",
    ),
]

api_urlpatterns: list[Any] = [
    path(
        "v1/patients/<uuid:patient_id>/coverage/",
        coverage_apis.PatientCoverageListApi.as_view(),
        name="patient-coverage",
    ),
    path(
        "v1/coverage/<uuid:coverage_id>/",
        coverage_apis.CoverageDetailApi.as_view(),
        name="coverage-detail",
    ),
]
