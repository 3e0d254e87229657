"""Acknowledgment, remittance and receivables pages (/billing/…), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.remittances import views

urlpatterns: list[Any] = [
    path("remittances/", views.remit_list, name="remit-list"),
    path("remittances/<uuid:remittance_id>/", views.remit_detail, name="remit-detail"),
    path("acknowledgments/<uuid:acknowledgment_id>/", views.ack_detail, name="ack-detail"),
    path("receivables/", views.receivables, name="receivables"),
    path("receivables/claims/", views.money_claims, name="money-claims"),
]
