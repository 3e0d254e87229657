"""Fee schedule and POLICY pages (/billing/…), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.fees import views

urlpatterns: list[Any] = [
    path("fees/", views.fee_schedule, name="fee-schedule"),
    path("policy/", views.policy, name="policy"),
    path("policy/reset/", views.policy_reset, name="policy-reset"),
]
