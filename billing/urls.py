"""Billing pages (/billing/…): months, close, claims, exports; other services and month
facts (facts_urls); fee schedule and POLICY (settings_urls)."""

from typing import Any

from django.urls import path

from billing.close import views
from billing.facts import urls as facts_urls
from billing.fees import urls as settings_urls

app_name = "billing"

urlpatterns: list[Any] = [
    path("months/", views.month_list, name="month-list"),
    path("months/<str:month>/", views.month_detail, name="month-detail"),
    path("months/<str:month>/progress/", views.month_progress, name="month-progress"),
    path("months/<str:month>/check/", views.preclose_check, name="preclose-check"),
    path("months/<str:month>/close/", views.month_close, name="month-close"),
    path("months/<str:month>/reopen/", views.month_reopen, name="month-reopen"),
    path("months/<str:month>/claims/", views.claim_list, name="claim-list"),
    path("months/<str:month>/claims/status/", views.claim_status_bulk, name="claim-status-bulk"),
    path("months/<str:month>/export.csv", views.export_csv, name="export-csv"),
    path("months/<str:month>/export.837", views.export_837, name="export-837"),
    path("months/<str:month>/export.pdf", views.export_pdf, name="export-pdf"),
    path("claims/<uuid:claim_id>/", views.claim_detail, name="claim-detail"),
    path("claims/<uuid:claim_id>/status/", views.claim_status, name="claim-status"),
    *facts_urls.urlpatterns,
    *settings_urls.urlpatterns,
]
