"""billing's demo hooks (found by ccm/demo.py; billing is the last app in INSTALLED_APPS)."""

from __future__ import annotations

import datetime as dt

from billing.close.services import month_close
from billing.progress.services import progress_reconcile
from billing.setup.demo import seed_billing_setup
from billing.submissions.selectors import latest_batch
from billing.submissions.services import batch_create
from ccm.demo import DemoSeed
from ccm.models import Practice
from ccm.tenancy import practice_scope
from patients.models import Coverage, CoverageKind, CoveragePriority, Patient
from timelog.demo import recent_months

PART_B_SINCE = dt.date(2000, 1, 1)


def part_b_for_uncovered(practice: Practice) -> int:
    """Medicare Part B primary coverage for every patient of the practice without primary
    coverage (bulk-seeded patients, a demo database from before coverage), in bulk: the month
    close bills only patients with Medicare in force. Returns how many rows were added."""
    covered = Coverage.objects.for_practice(practice).filter(priority=CoveragePriority.PRIMARY)
    missing = Patient.objects.for_practice(practice).exclude(pk__in=covered.values("patient_id"))
    rows = [
        Coverage(
            practice=practice,
            patient_id=pk,
            priority=CoveragePriority.PRIMARY,
            kind=CoverageKind.MEDICARE_PART_B,
            member_id=mbi,
            starts_on=PART_B_SINCE,
        )
        for pk, mbi in missing.values_list("pk", "mbi")
    ]
    Coverage.objects.for_practice(practice).bulk_create(rows, batch_size=5000)
    return len(rows)


def seed_demo(demo: DemoSeed) -> None:
    """After the other apps' rows: the worklist's progress rows (bulk inserts skip the
    engine-input helper, so compute them once), before timelog's finish hook reads them to
    make the daily job's outreach tasks."""
    for practice in demo.practices.values():
        part_b_for_uncovered(practice)  # patients' own demo coverage first; Part B for the rest
        progress_reconcile(practice_id=practice.pk, months=recent_months(practice, demo.months))
    seed_billing_setup(demo)


def finish_demo(demo: DemoSeed) -> None:
    """Close the demo's older months (idempotent), so billing has a history; last month
    stays open for the biller to close, this month is still running. The oldest closed
    month's claims are sent: its 837P batch (pyx12-valid, passing the front-end rules of the
    demo's billing setup) is on its month page."""
    practice = demo.practices["demo"]
    closed = recent_months(practice, demo.months)[:-2]
    for month in closed:
        month_close(practice_id=practice.pk, month=month)
    biller = demo.memberships.get("biller@demo.test")
    if closed and biller is not None and not latest_batch(practice=practice, month=closed[0]):
        with practice_scope(practice):
            batch = batch_create(actor=biller, month=closed[0])
        demo.added["837P batch"] += 1
        demo.added["claims sent"] += batch.claims
