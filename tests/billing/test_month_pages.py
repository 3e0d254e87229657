"""Billing pages: months, close with progress, pre-close check, claims review, claim status
(one and bulk), reopen; roles (coordinator 403, outsider 404), bad input saves nothing."""

import datetime as dt
import re

import pytest
import time_machine

from billing.claims.services import claims_status_set
from billing.close import tasks
from billing.models import Claim, ClaimStatus, CloseStatus, MonthClose, MonthReopening
from ccm.audit_selectors import about_patient
from ccm.models import AuditEvent
from tests.billing.test_month_close import AFTER, OCTOBER, _cast, _close
from tests.factories import staff_time
from tests.helpers import audited
from timelog.services import month_is_locked

pytestmark = pytest.mark.usefixtures("worker_here")


@pytest.fixture
def queue(worker_here):
    return worker_here


@pytest.fixture
def later():
    with time_machine.travel(AFTER, tick=False):
        yield


def _no_plan_patient(practice, physician, coordinator):
    """Enrolled, 30 minutes in October, but no signed care plan: a fixable pre-close problem."""
    from tests.timelog.conftest import make_enrolled

    with time_machine.travel(dt.datetime(2026, 9, 20, 15, tzinfo=dt.UTC), tick=False):
        no_plan = make_enrolled(practice, physician, coordinator, mrn="NP-1")
    staff_time(no_plan, coordinator, physician, dt.datetime(2026, 10, 6, 14, tzinfo=dt.UTC), 30)
    return no_plan


def _closed(practice, physician, coordinator):
    patients = _cast(practice, physician, coordinator)
    _close(practice)
    return patients


def test_month_list_and_an_open_month(biller_client, later):
    page = biller_client.get("/billing/months/")
    assert page.status_code == 200
    assert b"October 2026" in page.content
    detail = biller_client.get("/billing/months/2026-10/")
    assert b"Close October 2026" in detail.content
    assert b"pre-close check" in detail.content


def test_preclose_check_lists_problems_with_links(
    admin_client, biller_client, practice, physician, coordinator, later
):
    no_plan = _no_plan_patient(practice, physician, coordinator)
    _cast(practice, physician, coordinator, count=2)
    page = biller_client.get("/billing/months/2026-10/check/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "No signed care plan" in text
    assert "for the care team to fix" in text  # billers make no clinical edits
    assert (
        f"/care-plans/patient/{no_plan.pk}/start/"
        in admin_client.get("/billing/months/2026-10/check/").content.decode()
    )
    assert "1 would bill" in text
    # The check reads patient data: audited, and changes nothing.
    assert AuditEvent.objects.unscoped().filter(
        about_patient(no_plan.pk), action="patient.preclose_check"
    )
    assert not MonthClose.objects.unscoped().exists()


def test_a_biller_closes_from_the_page_and_sees_totals(
    biller_client, practice, physician, coordinator, later
):
    _cast(practice, physician, coordinator)
    response = biller_client.post("/billing/months/2026-10/close/", {"confirm": "yes"})
    assert response.status_code == 302
    close = MonthClose.objects.for_practice(practice).get()
    assert close.status == CloseStatus.CLOSED
    detail = biller_client.get("/billing/months/2026-10/").content.decode()
    assert "2 claims" in detail
    assert "99490" in detail
    assert "Download X12 837P" in detail
    progress = biller_client.get("/billing/months/2026-10/progress/").content.decode()
    assert "Closed" in progress
    assert "hx-trigger" not in progress


def test_progress_polls_while_running(biller_client, practice, later):
    MonthClose.objects.for_practice(practice).create(
        practice=practice, month=OCTOBER, status=CloseStatus.RUNNING, patients_total=10,
        patients_done=4,
    )  # fmt: skip
    fragment = biller_client.get("/billing/months/2026-10/progress/").content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    assert 'value="4"' in fragment
    assert "4 of 10" in fragment


def test_this_month_cannot_be_closed_from_the_page(biller_client, practice, later):
    response = biller_client.post("/billing/months/2026-11/close/", follow=True)
    assert b"has not ended yet" in response.content
    assert not MonthClose.objects.unscoped().exists()


def test_roles_and_outsiders(coordinator_client, outsider_client, physician_client, later):
    assert coordinator_client.get("/billing/months/").status_code == 403
    assert coordinator_client.post("/billing/months/2026-10/close/").status_code == 403
    assert physician_client.post("/billing/months/2026-10/close/").status_code == 403
    assert physician_client.get("/billing/months/2026-10/").status_code == 200
    assert coordinator_client.get("/billing/months/2026-10/export.csv").status_code == 403
    assert not MonthClose.objects.unscoped().exists()
    assert physician_client.get("/billing/months/2026-13/").status_code == 404


def test_claim_pages_and_status(
    biller_client, outsider_client, practice, physician, coordinator, later
):
    _closed(practice, physician, coordinator)
    claims = list(Claim.objects.for_practice(practice))
    listing = biller_client.get("/billing/months/2026-10/claims/").content.decode()
    assert "R19" in listing  # the explanation cites the rule
    not_billable = biller_client.get("/billing/months/2026-10/claims/?billable=no")
    assert b"20 minutes" in not_billable.content or b"R27" in not_billable.content
    claim = claims[0]
    detail = biller_client.get(f"/billing/claims/{claim.pk}/")
    assert detail.status_code == 200
    assert b"Lines and explanations" in detail.content
    assert outsider_client.get(f"/billing/claims/{claim.pk}/").status_code == 404
    assert (
        outsider_client.post(
            f"/billing/claims/{claim.pk}/status/", {"status": "submitted"}
        ).status_code
        == 404
    )
    biller_client.post(f"/billing/claims/{claim.pk}/status/", {"status": "submitted"})
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED
    # Denied needs a reason: nothing saved without one.
    page = biller_client.post(
        f"/billing/claims/{claim.pk}/status/", {"status": "denied"}, follow=True
    )
    assert b"Give the denial reason" in page.content
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED
    assert (
        AuditEvent.objects.unscoped()
        .filter(action="claim.status", patient_id=claim.patient_id)
        .count()
        == 1
    )


def test_bulk_status_is_all_or_nothing(biller_client, practice, physician, coordinator, later):
    _closed(practice, physician, coordinator)
    a, b = Claim.objects.for_practice(practice)
    biller_client.post(
        "/billing/months/2026-10/claims/status/", {"claims": [a.pk, b.pk], "status": "submitted"}
    )
    assert set(Claim.objects.unscoped().values_list("status", flat=True)) == {"submitted"}
    biller_client.post(f"/billing/claims/{a.pk}/status/", {"status": "paid"})
    # b may go to paid, but a paid claim may not go back to submitted: nothing changes.
    page = biller_client.post(
        "/billing/months/2026-10/claims/status/",
        {"claims": [a.pk, b.pk], "status": "ready"},
        follow=True,
    )
    assert b"cannot be marked ready" in page.content
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("paid", "submitted")


def test_reopen_needs_an_admin_and_a_reason(
    admin_client, biller_client, practice, physician, coordinator, later
):
    _closed(practice, physician, coordinator)
    assert biller_client.post("/billing/months/2026-10/reopen/", {"reason": "x"}).status_code == 403
    page = admin_client.post("/billing/months/2026-10/reopen/", {"reason": "  "}, follow=True)
    assert b"Give the reason" in page.content
    assert MonthClose.objects.unscoped().get().status == CloseStatus.CLOSED
    admin_client.post("/billing/months/2026-10/reopen/", {"reason": "Late physician minutes"})
    close = MonthClose.objects.unscoped().get()
    assert close.status == CloseStatus.REOPENED
    assert not month_is_locked(practice=practice, month=OCTOBER)
    reopening = MonthReopening.objects.unscoped().get()
    assert reopening.reason == "Late physician minutes"
    assert audited("month.reopen", object_id=str(reopening.pk))
    # Reopening twice: the month is not closed any more.
    page = admin_client.post("/billing/months/2026-10/reopen/", {"reason": "again"}, follow=True)
    assert b"Only a closed month can be reopened" in page.content


def test_a_broker_outage_leaves_a_resumable_close(
    biller_client, practice, physician, coordinator, later, queue
):
    from kombu.exceptions import OperationalError

    from ccm import jobs
    from ccm.models import PendingJob

    _cast(practice, physician, coordinator)
    queue.side_effect = OperationalError("down")
    page = biller_client.post(
        "/billing/months/2026-10/close/", {"confirm": "yes"}, follow=True
    ).content.decode()
    assert jobs.UNAVAILABLE_MESSAGE in page
    assert "Resume the close" in page
    assert MonthClose.objects.unscoped().get().status == CloseStatus.RUNNING
    assert PendingJob.objects.get().task == "billing.tasks.month_close"  # sent when it is back
    queue.side_effect = lambda *args: tasks.month_close.apply(args=args)
    # Resuming a close already started (and confirmed) needs no second confirmation.
    biller_client.post("/billing/months/2026-10/close/")
    assert MonthClose.objects.unscoped().get().status == CloseStatus.CLOSED


# --- Closing asks for confirmation with the pre-close counts ---------------------------------


def _month_with_problems(practice, physician, coordinator):
    """Two patient-months that bill, two under the first threshold, one without a signed
    care plan (a problem the pre-close check lists as fixable)."""
    _no_plan_patient(practice, physician, coordinator)
    return _cast(practice, physician, coordinator)


def _nothing_closed(queue):
    assert not MonthClose.objects.unscoped().exists()
    assert not month_is_locked_anywhere()
    assert not AuditEvent.objects.unscoped().filter(action="month.close_requested").exists()
    queue.assert_not_called()


def month_is_locked_anywhere():
    from timelog.models import MonthLock

    return MonthLock.objects.unscoped().exists()


def _count_row(text, title, count):
    return re.search(rf"{re.escape(title)}\s*</th>\s*<td[^>]*>\s*{count}\s*<", text)


def test_the_close_button_leads_to_a_confirmation_with_the_preclose_counts(
    biller_client, practice, physician, coordinator, later, queue
):
    _month_with_problems(practice, physician, coordinator)
    detail = biller_client.get("/billing/months/2026-10/").content.decode()
    assert 'href="/billing/months/2026-10/close/"' in detail
    assert 'action="/billing/months/2026-10/close/"' not in detail  # no one-click close
    page = biller_client.get("/billing/months/2026-10/close/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Close October 2026?" in text
    assert "locks" in text
    assert re.search(r"<strong>2</strong>\s*claims", text)
    assert _count_row(text, "No signed care plan shared with the patient", 1)
    assert _count_row(text, "Minutes logged but under the first threshold (R27)", 2)
    assert _count_row(text, "Minutes but no valid consent", 0)
    assert "1 patient-month has a problem you can still fix" in text
    assert 'href="/billing/months/2026-10/check/"' in text
    assert 'name="confirm" value="yes"' in text
    assert 'href="/billing/months/2026-10/"' in text  # cancel
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)  # CSP: no inline script
    assert not re.search(r"\son[a-z]+=", text)  # nor inline event handlers
    assert "Lovelace" not in text
    assert "NP-1" not in text
    _nothing_closed(queue)


def test_a_close_post_without_confirmation_reshows_the_page_and_changes_nothing(
    biller_client, practice, physician, coordinator, later, queue
):
    _month_with_problems(practice, physician, coordinator)
    for data in ({}, {"confirm": ""}, {"confirm": "no"}):
        response = biller_client.post("/billing/months/2026-10/close/", data)
        assert response.status_code == 200
        assert "Close October 2026?" in response.content.decode()
    _nothing_closed(queue)


def test_a_confirmed_close_closes_even_with_fixable_problems(
    biller_client, practice, physician, coordinator, later, queue
):
    _month_with_problems(practice, physician, coordinator)
    response = biller_client.post("/billing/months/2026-10/close/", {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == "/billing/months/2026-10/"
    close = MonthClose.objects.for_practice(practice).get()
    assert (close.status, close.claims) == (CloseStatus.CLOSED, 2)
    queue.assert_called_once()


def test_close_confirmation_is_refused_to_other_roles(
    coordinator_client, physician_client, practice, physician, coordinator, later, queue
):
    _month_with_problems(practice, physician, coordinator)
    for client in (coordinator_client, physician_client):
        assert client.get("/billing/months/2026-10/close/").status_code == 403
        response = client.post("/billing/months/2026-10/close/", {"confirm": "yes"})
        assert response.status_code == 403
    _nothing_closed(queue)


def test_the_outsider_sees_and_closes_only_their_own_practices_month(
    outsider_client, outsider, practice, physician, coordinator, later, queue
):
    # A month names no object of a practice: the outsider's request is about their own
    # practice (counts and close), never the victim's.
    _month_with_problems(practice, physician, coordinator)
    text = outsider_client.get("/billing/months/2026-10/close/").content.decode()
    assert re.search(r"<strong>0</strong>\s*claims", text)
    assert _count_row(text, "No signed care plan shared with the patient", 0)
    outsider_client.post("/billing/months/2026-10/close/", {"confirm": "yes"})
    assert MonthClose.objects.unscoped().get().practice_id == outsider.practice_id
    assert not MonthClose.objects.for_practice(practice).exists()


def test_closing_this_month_is_not_offered(biller_client, practice, later, queue):
    response = biller_client.get("/billing/months/2026-11/close/", follow=True)
    assert b"has not ended yet" in response.content
    assert b'name="confirm"' not in response.content
    _nothing_closed(queue)


def test_a_reclose_that_changes_submitted_claims_asks_for_both_confirmations(
    admin_client, biller, practice, physician, coordinator, later, queue
):
    patients = _closed(practice, physician, coordinator)
    claim = Claim.objects.unscoped().get(patient=patients[0])
    claims_status_set(practice=practice, actor=biller, claim_ids=[claim.pk], status="submitted")
    admin_client.post("/billing/months/2026-10/reopen/", {"reason": "late minutes"})
    staff_time(
        patients[0], coordinator, physician, dt.datetime(2026, 10, 20, 14, tzinfo=dt.UTC), 20
    )
    text = admin_client.get("/billing/months/2026-10/close/").content.decode()
    assert "Close October 2026 again?" in text
    assert "1 claim already submitted" in text
    assert 'name="confirm_changes"' in text
    page = admin_client.post(
        "/billing/months/2026-10/close/", {"confirm": "yes"}, follow=True
    ).content.decode()
    assert "Review the differences" in page
    assert MonthClose.objects.unscoped().get().status == CloseStatus.REOPENED
    admin_client.post("/billing/months/2026-10/close/", {"confirm": "yes", "confirm_changes": "on"})
    assert MonthClose.objects.unscoped().get().status == CloseStatus.CLOSED
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.READY
