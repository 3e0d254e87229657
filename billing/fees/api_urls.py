"""Fee schedule and POLICY API routes (in the `api` namespace, under /api/)."""

from typing import Any

from django.urls import path

from billing.fees import apis

urlpatterns: list[Any] = [
    path("v1/billing/fee-schedule/", apis.FeeScheduleApi.as_view(), name="billing-fee-schedule"),
    path("v1/billing/policy/", apis.BillingPolicyApi.as_view(), name="billing-policy"),
]
