"""API routes of the billing facts (/api/v1/…): other services and patient-month facts."""

from typing import Any

from django.urls import path

from billing.facts import apis

urlpatterns: list[Any] = [
    path(
        "v1/patients/<uuid:patient_id>/other-services/",
        apis.PatientOtherServiceListApi.as_view(),
        name="patient-other-services",
    ),
    path(
        "v1/other-services/<uuid:other_service_id>/",
        apis.OtherServiceDetailApi.as_view(),
        name="other-service-detail",
    ),
    path(
        "v1/patients/<uuid:patient_id>/month-facts/<str:month>/",
        apis.PatientMonthFactsApi.as_view(),
        name="patient-month-facts",
    ),
]
