"""Billing setup, payers and usual charges pages (/billing/…), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.setup import views

urlpatterns: list[Any] = [
    path("setup/", views.billing_setup, name="billing-setup"),
    path("charges/", views.usual_charges, name="usual-charges"),
    path("payers/", views.payer_list, name="payer-list"),
    path("payers/<uuid:payer_id>/", views.payer_edit, name="payer-edit"),
    path("apcm/", views.apcm_attestations, name="apcm-attestations"),
    path(
        "apcm/<str:kind>/<uuid:attestation_id>/withdraw/",
        views.apcm_withdraw,
        name="apcm-withdraw",
    ),
]
