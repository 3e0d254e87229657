"""Billing month API: status, close (202, idempotent), claims with explanations; roles,
bad months, another practice's claims never shown."""

import pytest
import time_machine
from rest_framework.test import APIClient

from billing.models import Claim
from tests.billing.test_month_close import AFTER, _cast

pytestmark = pytest.mark.usefixtures("worker_here")


def _api(membership):
    client = APIClient()
    client.force_login(membership.user)
    return client


def test_a_biller_closes_a_month_and_reads_its_claims(practice, biller, physician, coordinator):
    _cast(practice, physician, coordinator)
    api = _api(biller)
    with time_machine.travel(AFTER, tick=False):
        assert api.get("/api/v1/billing/months/2026-10/").json()["status"] == "open"
        first = api.post("/api/v1/billing/months/2026-10/close/")
        again = api.post("/api/v1/billing/months/2026-10/close/")
        claims = api.get("/api/v1/billing/months/2026-10/claims/").json()
    assert first.status_code == again.status_code == 202
    assert first.json()["job"]
    assert first.json()["month"]["status"] == "closed"
    assert again.json()["month"] == first.json()["month"]
    assert claims["count"] == 2 == Claim.objects.unscoped().count()
    line = claims["results"][0]["lines"][0]
    assert line["code"] == "99490"
    assert line["explanation"]


def test_roles_and_bad_months(practice, coordinator, biller, physician):
    with time_machine.travel(AFTER, tick=False):
        assert _api(coordinator).get("/api/v1/billing/months/2026-10/").status_code == 403
        assert _api(coordinator).post("/api/v1/billing/months/2026-10/close/").status_code == 403
        assert _api(physician).post("/api/v1/billing/months/2026-10/close/").status_code == 403
        assert _api(physician).get("/api/v1/billing/months/2026-10/").status_code == 200
        bad = _api(biller).get("/api/v1/billing/months/2026-13/")
        assert bad.status_code == 400
        assert "month" in bad.json()
        current = _api(biller).post("/api/v1/billing/months/2026-11/close/")
        assert current.status_code == 409  # the month has not ended: a state conflict
    assert not Claim.objects.unscoped().exists()


def test_the_outsider_sees_only_its_own_empty_month(
    practice, outsider, biller, physician, coordinator
):
    _cast(practice, physician, coordinator)
    with time_machine.travel(AFTER, tick=False):
        _api(biller).post("/api/v1/billing/months/2026-10/close/")
        mine = _api(outsider).get("/api/v1/billing/months/2026-10/claims/").json()
        status = _api(outsider).get("/api/v1/billing/months/2026-10/").json()
    assert mine["count"] == 0
    assert status["status"] == "open"


def test_a_claim_status_its_current_status_forbids_is_a_409_and_changes_nothing(
    practice, biller, physician, coordinator
):
    """ready → paid skips submitted: the claim's state forbids it (409, like every state
    conflict), not a malformed request (400)."""
    _cast(practice, physician, coordinator)
    api = _api(biller)
    with time_machine.travel(AFTER, tick=False):
        api.post("/api/v1/billing/months/2026-10/close/")
        claim = Claim.objects.unscoped().order_by("pk").first()
        one = api.patch(f"/api/v1/claims/{claim.pk}/", {"status": "paid"}, format="json")
        many = api.post(
            "/api/v1/billing/months/2026-10/claims/status/",
            {"claims": [str(claim.pk)], "status": "paid"},
            format="json",
        )
    assert one.status_code == many.status_code == 409
    assert "cannot be marked paid" in one.json()["detail"]
    claim.refresh_from_db()
    assert claim.status == "ready"
