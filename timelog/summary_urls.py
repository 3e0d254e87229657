"""Routes of after-contact summaries: the pages (included by timelog/urls.py) and the API
(`api_urlpatterns`, included by ccm/api_urls.py under /api/)."""

from typing import Any

from django.urls import path

from timelog import summary_apis, summary_views

urlpatterns: list[Any] = [
    path(
        "contacts/<uuid:attempt_id>/summary/new/",
        summary_views.summary_new,
        name="summary-new",
    ),
    path("summaries/<uuid:summary_id>/", summary_views.summary_detail, name="summary-detail"),
    path(
        "summaries/<uuid:summary_id>/pdf/",
        summary_views.summary_pdf_download,
        name="summary-pdf",
    ),
]

api_urlpatterns: list[Any] = [
    path(
        "v1/contacts/<uuid:attempt_id>/summaries/",
        summary_apis.ContactSummaryCreateApi.as_view(),
        name="contact-summaries",
    ),
    path(
        "v1/patients/<uuid:patient_id>/summaries/",
        summary_apis.PatientSummaryListApi.as_view(),
        name="patient-summaries",
    ),
    path(
        "v1/summaries/<uuid:summary_id>/",
        summary_apis.ContactSummaryDetailApi.as_view(),
        name="summary-detail",
    ),
    path(
        "v1/summaries/<uuid:summary_id>/pdf/",
        summary_apis.ContactSummaryPdfApi.as_view(),
        name="summary-pdf",
    ),
]
