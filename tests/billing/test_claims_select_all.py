"""Claims review's "select all" (works without JavaScript: the heading's box takes every claim
listed on the page) and the months list's labels (status and link say different things)."""

import pytest
import time_machine

from billing.models import Claim
from tests.billing.test_month_close import AFTER, _cast, _close

pytestmark = pytest.mark.usefixtures("worker_here")
URL = "/billing/months/2026-10/claims/"


@pytest.fixture
def later():
    with time_machine.travel(AFTER, tick=False):
        yield


@pytest.fixture
def claims(practice, physician, coordinator, later):
    _cast(practice, physician, coordinator)
    _close(practice)
    return list(Claim.objects.for_practice(practice).order_by("pk"))


def _statuses():
    return set(Claim.objects.unscoped().values_list("status", flat=True))


def test_claims_review_offers_select_all(biller_client, claims):
    html = biller_client.get(URL).content.decode()
    assert 'data-select-all="claims"' in html
    assert 'aria-label="Select all claims on this page"' in html
    for claim in claims:
        assert f'name="page_claims" value="{claim.pk}"' in html


def test_select_all_marks_every_claim_on_the_page(biller_client, claims):
    page_claims = [c.pk for c in claims]
    response = biller_client.post(
        f"{URL}status/",
        {"all_on_page": "1", "page_claims": page_claims, "status": "submitted"},
        follow=True,
    )
    assert f"{len(claims)} claim(s) marked submitted" in response.content.decode()
    assert _statuses() == {"submitted"}


def test_without_select_all_only_ticked_claims_change(biller_client, claims):
    first, second = claims
    biller_client.post(
        f"{URL}status/",
        {"claims": [first.pk], "page_claims": [first.pk, second.pk], "status": "submitted"},
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("submitted", "ready")


def test_select_all_with_a_foreign_claim_is_404_and_changes_nothing(
    biller_client, claims, other_practice
):
    foreign = "00000000-0000-4000-8000-000000000000"
    response = biller_client.post(
        f"{URL}status/",
        {"all_on_page": "1", "page_claims": [claims[0].pk, foreign], "status": "submitted"},
    )
    assert response.status_code == 404
    assert _statuses() == {"ready"}


def test_select_all_is_refused_to_a_coordinator(coordinator_client, claims):
    page_claims = [c.pk for c in claims]
    response = coordinator_client.post(
        f"{URL}status/", {"all_on_page": "1", "page_claims": page_claims, "status": "submitted"}
    )
    assert response.status_code == 403
    assert _statuses() == {"ready"}


def test_months_list_labels_status_and_link_differently(biller_client, claims):
    html = biller_client.get("/billing/months/").content.decode()
    assert "Open (not closed)" in html
    assert "Closed" in html
    assert ">View month<" in html
    assert ">Open<" not in html
