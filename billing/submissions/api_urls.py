"""Submission batch API routes (in the `api` namespace, under /api/)."""

from typing import Any

from django.urls import path

from billing.submissions import apis

_claim = "v1/billing/claims/<uuid:claim_id>/"
urlpatterns: list[Any] = [
    path(
        "v1/billing/months/<str:month>/batches/",
        apis.BatchListApi.as_view(),
        name="billing-month-batches",
    ),
    path(
        "v1/billing/batches/<uuid:batch_id>/", apis.BatchDetailApi.as_view(), name="billing-batch"
    ),
    path(
        "v1/billing/batches/<uuid:batch_id>/837",
        apis.Batch837Api.as_view(),
        name="billing-batch-837",
    ),
    path(f"{_claim}resubmit/", apis.ClaimResubmitApi.as_view(), name="billing-claim-resubmit"),
    path(f"{_claim}correct/", apis.ClaimCorrectApi.as_view(), name="billing-claim-correct"),
    path(f"{_claim}void/", apis.ClaimVoidApi.as_view(), name="billing-claim-void"),
]
