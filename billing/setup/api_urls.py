"""Billing setup, payers and usual charges API routes (in the `api` namespace, under /api/)."""

from typing import Any

from django.urls import path

from billing.setup import apis

urlpatterns: list[Any] = [
    path("v1/billing/setup/", apis.BillingSetupApi.as_view(), name="billing-setup"),
    path("v1/billing/payers/", apis.PayerListApi.as_view(), name="billing-payer-list"),
    path(
        "v1/billing/payers/<uuid:payer_id>/",
        apis.PayerDetailApi.as_view(),
        name="billing-payer-detail",
    ),
    path("v1/billing/usual-charges/", apis.UsualChargesApi.as_view(), name="billing-usual-charges"),
    path(
        "v1/billing/apcm/practice-attestations/",
        apis.ApcmPracticeAttestationListApi.as_view(),
        name="billing-apcm-practice-attestation-list",
    ),
    path(
        "v1/billing/apcm/practice-attestations/<uuid:attestation_id>/withdraw/",
        apis.ApcmPracticeAttestationWithdrawApi.as_view(),
        name="billing-apcm-practice-attestation-withdraw",
    ),
    path(
        "v1/billing/apcm/practitioner-attestations/",
        apis.ApcmPractitionerAttestationListApi.as_view(),
        name="billing-apcm-practitioner-attestation-list",
    ),
    path(
        "v1/billing/apcm/practitioner-attestations/<uuid:attestation_id>/withdraw/",
        apis.ApcmPractitionerAttestationWithdrawApi.as_view(),
        name="billing-apcm-practitioner-attestation-withdraw",
    ),
]
