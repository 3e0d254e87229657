"""Export downloads of a closed month (/billing/months/…/export.*) and the exports a worker
prepares (/billing/months/…/exports/, /billing/exports/<uuid>/…), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.exports import practice_views, views

urlpatterns: list[Any] = [
    path("months/<str:month>/export.csv", views.export_csv, name="export-csv"),
    path("months/<str:month>/export.837", views.export_837, name="export-837"),
    path("months/<str:month>/export.pdf", views.export_pdf, name="export-pdf"),
    path("months/<str:month>/exports/", views.month_exports, name="month-exports"),
    path("exports/<uuid:export_id>/", views.export_status, name="export-status"),
    path("exports/<uuid:export_id>/download", views.export_download, name="export-download"),
]

# Issue 19: the practice archive (all of the practice's data), for practice admins.
urlpatterns += [
    path("practice-archives/", practice_views.practice_archives, name="practice-archives"),
    path(
        "practice-archives/<uuid:export_id>/",
        practice_views.practice_archive_status,
        name="practice-archive-status",
    ),
    path(
        "practice-archives/<uuid:export_id>/download",
        practice_views.practice_archive_download,
        name="practice-archive-download",
    ),
]
