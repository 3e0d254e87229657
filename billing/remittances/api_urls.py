"""API routes of acknowledgments and remittances (/api/v1/billing/…)."""

from typing import Any

from django.urls import path

from billing.remittances import apis

urlpatterns: list[Any] = [
    path(
        "v1/billing/acknowledgments/",
        apis.AcknowledgmentListApi.as_view(),
        name="billing-acknowledgment-list",
    ),
    path(
        "v1/billing/acknowledgments/<uuid:acknowledgment_id>/",
        apis.AcknowledgmentDetailApi.as_view(),
        name="billing-acknowledgment-detail",
    ),
    path(
        "v1/billing/remittances/",
        apis.RemittanceListApi.as_view(),
        name="billing-remittance-list",
    ),
    path(
        "v1/billing/remittances/<uuid:remittance_id>/",
        apis.RemittanceDetailApi.as_view(),
        name="billing-remittance-detail",
    ),
]
