"""Pages of the billing facts (/billing/…): other services, month facts, their CSV import."""

from typing import Any

from django.urls import path

from billing.facts import views

urlpatterns: list[Any] = [
    path(
        "patients/<uuid:patient_id>/other-services/",
        views.other_service_list,
        name="other-service-list",
    ),
    path(
        "other-services/<uuid:other_service_id>/delete/",
        views.other_service_delete,
        name="other-service-delete",
    ),
    path("other-services/import/", views.import_upload, name="other-service-import"),
    path(
        "other-services/import/<uuid:service_import_id>/",
        views.import_detail,
        name="other-service-import-detail",
    ),
    path(
        "patients/<uuid:patient_id>/month-facts/",
        views.month_facts_current,
        name="month-facts-current",
    ),
    path(
        "patients/<uuid:patient_id>/month-facts/<str:month>/",
        views.month_facts_edit,
        name="month-facts-edit",
    ),
]
