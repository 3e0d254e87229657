"""Prepared export API routes (in the `api` namespace, under /api/); the direct downloads
stay beside the other month routes in ccm/api_urls.py."""

from typing import Any

from django.urls import path

from billing.exports import apis, practice_apis

urlpatterns: list[Any] = [
    path(
        "v1/billing/months/<str:month>/exports/",
        apis.PreparedExportRequestApi.as_view(),
        name="billing-month-exports",
    ),
    path(
        "v1/billing/exports/<uuid:export_id>/",
        apis.PreparedExportApi.as_view(),
        name="billing-export",
    ),
    path(
        "v1/billing/exports/<uuid:export_id>/download",
        apis.PreparedExportDownloadApi.as_view(),
        name="billing-export-download",
    ),
]

# Issue 19: the practice archive (all of the practice's data), for practice admins.
urlpatterns += [
    path(
        "v1/practice/archives/",
        practice_apis.PracticeArchiveListApi.as_view(),
        name="practice-archives",
    ),
    path(
        "v1/practice/archives/<uuid:export_id>/",
        practice_apis.PracticeArchiveApi.as_view(),
        name="practice-archive",
    ),
    path(
        "v1/practice/archives/<uuid:export_id>/download",
        practice_apis.PracticeArchiveDownloadApi.as_view(),
        name="practice-archive-download",
    ),
]
