"""Routes of care transitions: the pages (included by careplans/urls.py under /care-plans/)
and the API (`api_urlpatterns`, included by ccm/api_urls.py under /api/)."""

from typing import Any

from django.urls import path

from careplans import transition_apis, transition_views

urlpatterns: list[Any] = [
    path(
        "patient/<uuid:patient_id>/transitions/new/",
        transition_views.transition_new,
        name="transition-new",
    ),
    path(
        "transitions/<uuid:transition_id>/document/",
        transition_views.transition_document,
        name="transition-document",
    ),
]

api_urlpatterns: list[Any] = [
    path(
        "v1/patients/<uuid:patient_id>/transitions/",
        transition_apis.PatientTransitionListApi.as_view(),
        name="patient-transitions",
    ),
    path(
        "v1/transitions/<uuid:transition_id>/",
        transition_apis.TransitionDetailApi.as_view(),
        name="transition-detail",
    ),
    path(
        "v1/transitions/<uuid:transition_id>/document/",
        transition_apis.TransitionDocumentApi.as_view(),
        name="transition-document",
    ),
]
