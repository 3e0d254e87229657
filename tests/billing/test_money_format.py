"""Amounts on the billing pages are written one way ("$2,542.45"), whatever the page; the CSV
export keeps plain numbers."""

import pytest

from billing.models import Claim, MonthClose
from tests.billing.test_claims_select_all import claims, later  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("worker_here")


def test_month_list_claims_review_and_month_write_money_one_way(biller_client, claims):  # noqa: F811
    MonthClose.objects.unscoped().update(amount="2542.45")
    Claim.objects.unscoped().filter(pk=claims[0].pk).update(amount="2154.96")
    months = biller_client.get("/billing/months/").content.decode()
    assert "$2,542.45" in months
    assert "$2542.45" not in months
    review = biller_client.get("/billing/months/2026-10/claims/").content.decode()
    assert "$2,154.96" in review
    assert "$2154.96" not in review


def test_claims_csv_keeps_plain_numbers(biller_client, claims):  # noqa: F811
    response = biller_client.get("/billing/months/2026-10/export.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"$" not in body
    assert b",66.13," in body  # a line's charge, as a number
