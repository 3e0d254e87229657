"""Export downloads of a closed month (/billing/months/…/export.*), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.exports import views

urlpatterns: list[Any] = [
    path("months/<str:month>/export.csv", views.export_csv, name="export-csv"),
    path("months/<str:month>/export.837", views.export_837, name="export-837"),
    path("months/<str:month>/export.pdf", views.export_pdf, name="export-pdf"),
]
