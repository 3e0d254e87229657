"""Coverage gate of the month close: a patient-month bills only with Medicare coverage in force
(Part B, Medicare Advantage, or another primary insurer with Medicare secondary), its claim is
stamped with the month's coverage and payer, a re-close keeps a submitted claim's stamps and a
correction restamps it; the pre-close check lists the patients without coverage (page, API);
the chart flags them."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.claims.services import claims_status_set
from billing.close import services
from billing.close.coverage import NO_COVERAGE_MESSAGE
from billing.models import Claim, ClaimStatus, Outcome
from patients.models import Coverage
from tests.billing.test_month_close import AFTER, OCTOBER, _cast, _close
from tests.factories import CoverageFactory, PayerFactory, staff_time
from tests.helpers import audited, token_client

NO_COVERAGE = NO_COVERAGE_MESSAGE.format(month="October 2026")


@pytest.fixture
def cast(practice, physician, coordinator):
    """Four ready patients with Part B (factory): 0 and 2 have 25 October minutes, 1 and 3
    have 10."""
    return _cast(practice, physician, coordinator)


def _only(patient, **coverage):
    """The patient's coverage replaced by one primary row (unsaved kwargs as the factory's)."""
    Coverage.objects.unscoped().filter(patient=patient).delete()
    return CoverageFactory(patient=patient, **coverage) if coverage else None


def _claim(patient):
    return Claim.objects.unscoped().get(patient=patient)


def _outcome(patient):
    return Outcome.objects.unscoped().get(patient=patient)


def test_a_patient_without_coverage_does_not_bill_and_says_why(practice, cast):
    _only(cast[0])
    close = _close(practice)
    assert close.claims == 1  # only cast[2] of the two with 25 minutes
    outcome = _outcome(cast[0])
    assert not outcome.billable
    assert outcome.blocked_by == ["coverage"]
    assert outcome.reasons == [NO_COVERAGE]
    assert not Claim.objects.unscoped().filter(patient=cast[0]).exists()
    assert _claim(cast[2]).coverage is not None


def test_coverage_is_added_to_the_engines_own_blocks(practice, cast):
    from patients.models import Consent

    Consent.objects.unscoped().filter(patient=cast[0]).delete()
    _only(cast[0])
    _close(practice)
    outcome = _outcome(cast[0])
    assert outcome.blocked_by[-1] == "coverage"
    assert len(outcome.blocked_by) == len(outcome.reasons) > 1
    assert outcome.reasons[-1] == NO_COVERAGE


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "bills"),
    [
        (dt.date(2020, 1, 1), dt.date(2026, 9, 30), False),  # ended before October
        (dt.date(2026, 11, 1), None, False),  # starts after it
        (dt.date(2020, 1, 1), dt.date(2026, 10, 1), True),  # in force on one day of it
        (dt.date(2026, 10, 31), None, True),  # from its last day
    ],
)
def test_only_coverage_in_force_in_the_month_counts(practice, cast, starts_on, ends_on, bills):
    _only(cast[0], starts_on=starts_on, ends_on=ends_on)
    _close(practice)
    assert _outcome(cast[0]).billable is bills
    assert Claim.objects.unscoped().filter(patient=cast[0]).exists() is bills


def test_a_primary_row_that_is_not_medicare_does_not_bill(practice, cast):
    _only(cast[0], kind="medicaid", payer=PayerFactory(practice=practice, kind="medicaid"))
    _close(practice)
    assert _outcome(cast[0]).blocked_by == ["coverage"]


def test_a_part_b_claim_goes_to_medicare_as_primary(practice, cast):
    _close(practice)
    claim = _claim(cast[0])
    assert claim.coverage == Coverage.objects.unscoped().get(patient=cast[0])
    assert claim.payer is None  # the 837P sends it to the practice's Medicare contractor
    assert claim.payer_responsibility == "P"
    assert claim.secondary_coverage is None


def test_a_medicare_advantage_claim_goes_to_the_plan(practice, cast):
    plan = PayerFactory(practice=practice, name="Sunrise Advantage", kind="medicare_advantage")
    row = _only(cast[0], kind="medicare_advantage", payer=plan, member_id="MA-1")
    _close(practice)
    claim = _claim(cast[0])
    assert (claim.coverage, claim.payer, claim.payer_responsibility) == (row, plan, "P")


def test_an_msp_claim_goes_to_medicare_as_secondary(practice, cast):
    employer = PayerFactory(practice=practice, name="Employer plan", kind="commercial")
    row = _only(cast[0], kind="other_primary", payer=employer, msp_type="12", member_id="E-1")
    _close(practice)
    claim = _claim(cast[0])
    # Destination Medicare (no payer); the employer plan is the other payer of loop 2320.
    assert (claim.coverage, claim.payer, claim.payer_responsibility) == (row, None, "S")


def test_the_secondary_coverage_in_force_is_stamped(practice, cast):
    medigap = PayerFactory(practice=practice, kind="medigap")
    secondary = CoverageFactory(
        patient=cast[0], priority="secondary", kind="medigap", payer=medigap
    )
    CoverageFactory(  # ended before October: not stamped
        patient=cast[2], priority="secondary", kind="medicaid", ends_on=dt.date(2026, 9, 30)
    )
    _close(practice)
    assert _claim(cast[0]).secondary_coverage == secondary
    assert _claim(cast[2]).secondary_coverage is None


def _submit(practice, biller, claim):
    with time_machine.travel(AFTER, tick=False):
        claims_status_set(practice=practice, actor=biller, claim_ids=[claim.pk], status="submitted")


def _reopen(practice, admin):
    with time_machine.travel(AFTER, tick=False):
        services.month_reopen(practice=practice, month=OCTOBER, actor=admin, reason="coverage")


def _reclose(practice, **kwargs):
    with time_machine.travel(AFTER, tick=False):
        return services.month_close(practice_id=practice.pk, month=OCTOBER, **kwargs)


def _switch_to_advantage(practice, patient):
    """An MA plan from October on, recorded after the close (the later start wins)."""
    plan = PayerFactory(practice=practice, kind="medicare_advantage")
    return CoverageFactory(
        patient=patient, kind="medicare_advantage", payer=plan, starts_on=OCTOBER
    )


def test_a_reclose_keeps_a_submitted_claims_stamps(practice, admin, biller, cast):
    _close(practice)
    claim = _claim(cast[0])
    part_b = claim.coverage
    _submit(practice, biller, claim)
    _reopen(practice, admin)
    _switch_to_advantage(practice, cast[0])
    assert services.submitted_changes(practice=practice, month=OCTOBER) == []
    _reclose(practice)
    claim.refresh_from_db()
    assert (claim.status, claim.coverage, claim.payer) == (ClaimStatus.SUBMITTED, part_b, None)


def test_a_reclose_restamps_the_claims_it_makes_again(practice, admin, cast):
    _close(practice)
    _reopen(practice, admin)
    advantage = _switch_to_advantage(practice, cast[0])
    _reclose(practice)  # the ready claim is dropped and made again from today's coverage
    claim = _claim(cast[0])
    assert (claim.coverage, claim.payer) == (advantage, advantage.payer)


def test_a_confirmed_correction_restamps_the_claim(
    practice, admin, biller, physician, coordinator, cast
):
    _close(practice)
    claim = _claim(cast[0])
    _submit(practice, biller, claim)
    _reopen(practice, admin)
    advantage = _switch_to_advantage(practice, cast[0])
    staff_time(cast[0], coordinator, physician, dt.datetime(2026, 10, 20, 14, tzinfo=dt.UTC), 20)
    _reclose(practice, confirm_changes=True)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.READY
    assert (claim.coverage, claim.payer, claim.payer_responsibility) == (
        advantage,
        advantage.payer,
        "P",
    )
    assert audited("claim.correct", object_id=str(claim.pk))


def test_coverage_lost_after_submission_withdraws_the_claim_once_confirmed(
    practice, admin, biller, cast
):
    _close(practice)
    claim = _claim(cast[0])
    _submit(practice, biller, claim)
    _reopen(practice, admin)
    Coverage.objects.unscoped().filter(patient=cast[0]).update(ends_on=dt.date(2026, 9, 30))
    changes = services.submitted_changes(practice=practice, month=OCTOBER)
    assert [(c.pk, d) for c, d in changes] == [
        (claim.pk, [f"The month no longer bills: {NO_COVERAGE}"])
    ]
    _reclose(practice, confirm_changes=True)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.WITHDRAWN
    assert _outcome(cast[0]).blocked_by == ["coverage"]


def _coverage_queries(queries):
    return [q for q in queries if 'FROM "patients_coverage"' in q["sql"]]


def test_coverage_is_read_once_per_batch(practice, cast):
    with (
        mock.patch.object(services, "BATCH", 2),
        CaptureQueriesContext(connection) as captured,
    ):
        _close(practice)
    assert len(_coverage_queries(captured.captured_queries)) == 2  # four patients, two batches
    assert Claim.objects.unscoped().count() == 2


# --- Pre-close check ------------------------------------------------------------------------


@pytest.fixture
def later():
    with time_machine.travel(AFTER, tick=False):
        yield


def test_the_preclose_check_lists_patients_without_coverage(biller_client, practice, cast, later):
    _only(cast[0])  # 25 minutes, would bill
    _only(cast[3])  # 10 minutes, enrolled: listed too
    text = biller_client.get("/billing/months/2026-10/check/").content.decode()
    section = text[text.index('id="check-coverage"') :]
    section = section[: section.index("</section>")]
    assert "No billable coverage in force" in section
    assert NO_COVERAGE.replace("'", "&#x27;") in section
    for patient in (cast[0], cast[3]):
        assert f"/patients/{patient.pk}/#coverage" in section
    assert str(cast[2].pk) not in section
    assert "Record coverage" in section  # billers record coverage
    assert "1 would bill" in text
    assert audited("patient.preclose_check", patient_id=cast[0].pk)


def test_the_preclose_check_counts_uncovered_months_as_problems(
    biller_client, practice, cast, later
):
    check = services.preclose_check(practice=practice, month=OCTOBER)
    assert dict((key, rows) for key, _t, rows in check["groups"])["coverage"] == []
    _only(cast[0])
    check = services.preclose_check(practice=practice, month=OCTOBER)
    groups = {key: rows for key, _t, rows in check["groups"]}
    assert [row["patient"].pk for row in groups["coverage"]] == [cast[0].pk]
    assert (check["billable"], check["problems"]) == (1, 1)
    assert check["groups"][0][0] == "coverage"  # first on the page


def test_the_preclose_check_api_lists_the_rows(practice, biller, cast, later):
    _only(cast[0])
    answer = token_client(biller).get("/api/v1/billing/months/2026-10/check/")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["month"], body["billable"], body["problems"]) == ("2026-10", 1, 1)
    groups = {group["key"]: group for group in body["groups"]}
    assert groups["coverage"]["count"] == 1
    row = groups["coverage"]["rows"][0]
    assert row == {
        "patient": str(cast[0].pk),
        "minutes_logged": 25,
        "minutes_countable": 25,
        "reasons": [NO_COVERAGE],
        "next_code": None,
        "minutes_needed": None,
    }
    under = groups["under"]["rows"]
    assert {r["patient"] for r in under} == {str(cast[1].pk), str(cast[3].pk)}
    assert under[0]["next_code"] == "99490"
    assert under[0]["minutes_needed"] == 10
    assert audited("patient.preclose_check", patient_id=cast[0].pk)


def test_the_preclose_check_api_roles_and_bad_month(
    practice, coordinator, outsider, biller, cast, later
):
    _only(cast[0])
    assert token_client(coordinator).get("/api/v1/billing/months/2026-10/check/").status_code == (
        403
    )
    bad = token_client(biller).get("/api/v1/billing/months/2026-13/check/")
    assert bad.status_code == 400
    assert "month" in bad.json()
    theirs = token_client(outsider).get("/api/v1/billing/months/2026-10/check/").json()
    assert theirs["candidates"] == 0
    assert all(group["rows"] == [] for group in theirs["groups"])


# --- The chart ------------------------------------------------------------------------------


def test_the_chart_flags_a_patient_without_coverage_this_month(coordinator_client, practice, cast):
    with time_machine.travel(dt.datetime(2026, 10, 20, 15, tzinfo=dt.UTC), tick=False):
        covered = coordinator_client.get(f"/patients/{cast[0].pk}/").content.decode()
        _only(cast[0], starts_on=dt.date(2020, 1, 1), ends_on=dt.date(2026, 9, 30))
        lapsed = coordinator_client.get(f"/patients/{cast[0].pk}/").content.decode()
    assert 'id="no-coverage-note"' not in covered
    assert 'id="no-coverage-note"' in lapsed
    assert "No Medicare coverage in force in October 2026" in lapsed


def _progress(patient):
    from timelog.models import MonthProgress

    return MonthProgress.objects.unscoped().get(patient=patient, month=OCTOBER)


def test_the_worklist_progress_says_a_patient_without_coverage_will_not_bill(
    practice, cast, coordinator
):
    from billing.progress.services import progress_refresh
    from ccm.tenancy import practice_scope
    from patients import coverage_services

    assert _progress(cast[0]).billable  # 25 minutes, Part B (factory)
    Coverage.objects.unscoped().filter(patient=cast[0]).delete()
    progress_refresh(practice=practice, patient_ids=[cast[0].pk], months=[OCTOBER])
    row = _progress(cast[0])
    assert not row.billable
    assert row.projected_amount == 0
    assert row.clinical_staff_minutes == 25  # the minutes still show
    # Recording coverage through the service refreshes the stored progress (engine inputs).
    with practice_scope(practice):  # as a request or a job runs it
        coverage_services.coverage_create(
            practice=practice,
            actor=coordinator,
            patient=cast[0],
            kind="part_b",
            starts_on=dt.date(2026, 1, 1),
        )
    assert _progress(cast[0]).billable
