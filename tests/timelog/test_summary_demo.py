"""The demo's after-contact summaries: the practice's 24/7 number, a summary of a reached
call for a few enrolled patients in their language (the first Spanish-speaking one given to a
daughter the patient permits), each valid; seeding again adds nothing."""

import datetime as dt

import pytest

from ccm.demo import DemoSeed
from patients.careteam_selectors import may_share
from patients.models import ShareScope, Status
from tests.factories import PatientFactory, SummaryAttemptFactory
from tests.helpers import frozen_clock
from tests.timelog.conftest import NOW
from timelog import summary_demo
from timelog.models import ContactAttempt, ContactSummary

_frozen = frozen_clock(NOW, autouse=True)
pytestmark = pytest.mark.usefixtures("scoped")


def _demo(practice, coordinator):
    return DemoSeed({"demo": practice}, {"coordinator@demo.test": coordinator}, 3, 1)


def test_the_demo_has_spanish_and_english_summaries(practice, coordinator):
    spanish = [
        PatientFactory(
            practice=practice, mrn=f"S-{n}", status=Status.ENROLLED, preferred_language=language
        )
        for n, language in enumerate(("Spanish", "Español"))
    ]
    PatientFactory(practice=practice, mrn="E-1", status=Status.ENROLLED)
    PatientFactory(practice=practice, mrn="C-1", status=Status.CANDIDATE)
    earlier = SummaryAttemptFactory(patient=spanish[1], recorded_by=coordinator)
    demo = _demo(practice, coordinator)
    summary_demo.seed(demo)

    practice.refresh_from_db()
    assert practice.after_hours_phone == summary_demo.AFTER_HOURS_PHONE
    rows = {s.patient.mrn: s for s in ContactSummary.objects.select_related("patient")}
    assert set(rows) == {"S-0", "S-1", "E-1"}
    assert demo.added["after-contact summaries"] == 3
    assert [rows[m].language for m in ("S-0", "S-1", "E-1")] == ["es", "es", "en"]
    assert rows["S-1"].contact_attempt == earlier  # an existing reached call is used
    assert "azúcar" in rows["S-0"].talked_about
    daughter = rows["S-0"].shared_with
    assert daughter.relationship == "Daughter"
    assert may_share(
        practice=practice, contact=daughter, scope=ShareScope.SUMMARIES, on=dt.date(2026, 10, 20)
    )
    for summary in rows.values():
        summary.full_clean()
        assert summary.contact_attempt.reached

    summary_demo.seed(_demo(practice, coordinator))
    assert ContactSummary.objects.count() == 3
    assert ContactAttempt.objects.count() == 3
