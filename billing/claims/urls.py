"""Claims review pages (/billing/…), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.claims import views

urlpatterns: list[Any] = [
    path("months/<str:month>/claims/", views.claim_list, name="claim-list"),
    path("months/<str:month>/claims/status/", views.claim_status_bulk, name="claim-status-bulk"),
    path("claims/<uuid:claim_id>/", views.claim_detail, name="claim-detail"),
    path("claims/<uuid:claim_id>/status/", views.claim_status, name="claim-status"),
]
