"""Reopen and re-close: ready claims replaced consistently; submitted claims never changed
silently (differences listed, confirmation required, then corrected or withdrawn)."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from billing.claims.services import claims_status_set
from billing.close import services
from billing.models import Claim, ClaimLine, ClaimStatus, CloseStatus, MonthClose, Outcome
from tests.billing.test_month_close import AFTER, OCTOBER, _cast, _close, _snapshot
from tests.factories import staff_time
from tests.helpers import audited


@pytest.fixture
def closed(practice, physician, coordinator):
    patients = _cast(practice, physician, coordinator)
    _close(practice)
    return patients


def _reopen(practice, admin):
    with time_machine.travel(AFTER, tick=False):
        services.month_reopen(practice=practice, month=OCTOBER, actor=admin, reason="fix")


def _reclose(practice, **kwargs):
    with time_machine.travel(AFTER, tick=False):
        return services.month_close(practice_id=practice.pk, month=OCTOBER, **kwargs)


def _add_minutes(patient, physician, coordinator, minutes):
    staff_time(
        patient, coordinator, physician, dt.datetime(2026, 10, 20, 14, tzinfo=dt.UTC), minutes
    )


def test_reclose_without_changes_gives_the_same_claims(practice, admin, closed):
    before = _snapshot(practice)
    _reopen(practice, admin)
    close = _reclose(practice)
    assert close.status == CloseStatus.CLOSED
    assert close.times_closed == 2
    assert _snapshot(practice) == before


def test_reclose_replaces_ready_claims_after_corrections(
    practice, admin, physician, coordinator, closed
):
    _reopen(practice, admin)
    short = closed[1]  # 10 minutes: not billable at first close
    _add_minutes(short, physician, coordinator, 15)
    close = _reclose(practice)
    assert close.claims == 3
    assert Claim.objects.unscoped().filter(patient=short).exists()
    assert Outcome.objects.for_practice(practice).count() == 4
    assert Outcome.objects.unscoped().get(patient=short).billable


def test_submitted_claim_changes_need_confirmation(
    practice, admin, biller, physician, coordinator, closed
):
    billed = closed[0]  # 25 minutes: 99490
    claim = Claim.objects.unscoped().get(patient=billed)
    with time_machine.travel(AFTER, tick=False):
        claims_status_set(practice=practice, actor=biller, claim_ids=[claim.pk], status="submitted")
    _reopen(practice, admin)
    _add_minutes(billed, physician, coordinator, 20)  # 45 min: 99490 + 99439
    changes = services.submitted_changes(practice=practice, month=OCTOBER)
    assert [c.pk for c, _d in changes] == [claim.pk]
    assert "99439" in " ".join(changes[0][1])
    with pytest.raises(ValidationError, match="confirm"):
        _reclose(practice)
    assert MonthClose.objects.unscoped().get().status == CloseStatus.REOPENED
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED
    assert ClaimLine.objects.unscoped().filter(claim=claim).count() == 1
    _reclose(practice, confirm_changes=True)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.READY
    assert claim.corrected_at is not None
    lines = ClaimLine.objects.unscoped().filter(claim=claim).order_by("position")
    assert [line.code for line in lines] == ["99490", "99439"]
    assert audited("claim.correct", object_id=str(claim.pk))
    assert Claim.objects.unscoped().filter(patient=billed).count() == 1


def test_unchanged_submitted_claims_stay_submitted(practice, admin, biller, closed):
    claims = list(Claim.objects.for_practice(practice))
    with time_machine.travel(AFTER, tick=False):
        claims_status_set(
            practice=practice, actor=biller, claim_ids=[c.pk for c in claims], status="submitted"
        )
    _reopen(practice, admin)
    assert services.submitted_changes(practice=practice, month=OCTOBER) == []
    _reclose(practice)
    assert set(Claim.objects.unscoped().values_list("status", flat=True)) == {"submitted"}


def _submitted_then_consent_withdrawn(practice, admin, biller, billed):
    """The billed patient's claim is submitted, the month reopened, then the consent goes
    (the month no longer bills); returns the claim."""
    from billing.progress.services import progress_refresh
    from patients.models import Consent

    claim = Claim.objects.unscoped().get(patient=billed)
    with time_machine.travel(AFTER, tick=False):
        claims_status_set(practice=practice, actor=biller, claim_ids=[claim.pk], status="submitted")
    _reopen(practice, admin)
    Consent.objects.unscoped().filter(patient=billed).delete()
    progress_refresh(practice=practice, patient_ids=[billed.pk], months=[OCTOBER])
    return claim


def test_a_withdrawn_consent_withdraws_a_confirmed_submitted_claim(practice, admin, biller, closed):
    claim = _submitted_then_consent_withdrawn(practice, admin, biller, closed[0])
    changes = services.submitted_changes(practice=practice, month=OCTOBER)
    assert "no longer bills" in changes[0][1][0]
    _reclose(practice, confirm_changes=True)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN
    assert audited("claim.withdraw", object_id=str(claim.pk))


def test_reopen_rules(practice, admin, biller, closed):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.month_reopen(practice=practice, month=OCTOBER, actor=biller, reason="x")
    with pytest.raises(ValidationError):
        services.month_reopen(practice=practice, month=OCTOBER, actor=admin, reason=" ")
    with pytest.raises(services.MonthState):
        services.month_reopen(practice=practice, month=dt.date(2026, 9, 1), actor=admin, reason="x")
    assert MonthClose.objects.unscoped().get().status == CloseStatus.CLOSED


def test_a_withdrawn_claim_is_kept_and_counts_nowhere(practice, admin, biller, closed):
    claim = _submitted_then_consent_withdrawn(practice, admin, biller, closed[0])
    close = _reclose(practice, confirm_changes=True)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN
    assert ClaimLine.objects.unscoped().filter(claim=claim).exists()  # the record stays
    assert close.claims == 1  # only the other billable patient
    with pytest.raises(ValidationError):
        claims_status_set(practice=practice, actor=biller, claim_ids=[claim.pk], status="withdrawn")


def test_claims_carried_by_an_837_are_kept_like_submitted_ones(
    practice, admin, physician, coordinator, closed
):
    from django.utils import timezone

    billed = closed[0]
    claim = Claim.objects.unscoped().get(patient=billed)
    Claim.objects.unscoped().filter(pk=claim.pk).update(exported_at=timezone.now())
    _reopen(practice, admin)
    _add_minutes(billed, physician, coordinator, 20)
    assert [c.pk for c, _d in services.submitted_changes(practice=practice, month=OCTOBER)] == [
        claim.pk
    ]
    with pytest.raises(ValidationError, match="confirm"):
        _reclose(practice)
    assert Claim.objects.unscoped().filter(pk=claim.pk).exists()  # not replaced


def test_a_stale_close_job_does_not_undo_a_reopen(practice, admin, closed):
    _reopen(practice, admin)
    # A job queued for the first close (generation 0) arrives after the reopen: no-op.
    close = _reclose(practice, generation=0)
    assert close.status == CloseStatus.REOPENED
    from timelog.services import month_is_locked

    assert not month_is_locked(practice=practice, month=OCTOBER)
    assert _reclose(practice, generation=1).status == CloseStatus.CLOSED
