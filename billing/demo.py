"""billing's demo hooks (found by ccm/demo.py; billing is the last app in INSTALLED_APPS)."""

from __future__ import annotations

from billing.close.services import month_close
from billing.progress.services import progress_reconcile
from billing.setup.demo import seed_billing_setup
from ccm.demo import DemoSeed
from timelog.demo import recent_months


def seed_demo(demo: DemoSeed) -> None:
    """After the other apps' rows: the worklist's progress rows (bulk inserts skip the
    engine-input helper, so compute them once), before timelog's finish hook reads them to
    make the daily job's outreach tasks."""
    for practice in demo.practices.values():
        progress_reconcile(practice_id=practice.pk, months=recent_months(practice, demo.months))
    seed_billing_setup(demo)


def finish_demo(demo: DemoSeed) -> None:
    """Close the demo's older months (idempotent), so billing has a history; last month
    stays open for the biller to close, this month is still running."""
    practice = demo.practices["demo"]
    for month in recent_months(practice, demo.months)[:-2]:
        month_close(practice_id=practice.pk, month=month)
