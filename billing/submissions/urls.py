"""Submission batch pages (/billing/…), in the `billing` namespace."""

from typing import Any

from django.urls import path

from billing.submissions import views

urlpatterns: list[Any] = [
    path("months/<str:month>/batches/", views.batch_list, name="batch-list"),
    path("batches/<uuid:batch_id>/", views.batch_detail, name="batch-detail"),
    path("batches/<uuid:batch_id>/837", views.batch_download, name="batch-download"),
    path("claims/<uuid:claim_id>/resubmit/", views.claim_resubmit, name="claim-resubmit"),
    path("claims/<uuid:claim_id>/correct/", views.claim_correct, name="claim-correct"),
    path("claims/<uuid:claim_id>/void/", views.claim_void, name="claim-void"),
]
