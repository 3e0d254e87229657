"""Demo contact attempts: realistic outcomes over the demo months, one patient with three
unanswered attempts this month (shown on the worklist), and nothing added by a re-run."""

import io
from collections import Counter

from django.core.management import call_command

from ccm.models import Practice
from ccm.tenancy import practice_scope
from patients.models import Patient, Status
from timelog.models import UNANSWERED, ContactAttempt, MonthProgress


def test_seed_demo_adds_realistic_attempts_once(db):
    call_command("seed_demo", stdout=io.StringIO())
    practice = Practice.objects.get(slug="demo")
    with practice_scope(practice):
        attempts = ContactAttempt.objects.all()
        outcomes = {a.outcome for a in attempts}
        total = attempts.count()
        reached = attempts.filter(outcome="reached").count()
        assert reached > total / 2
        assert {"voicemail", "no_answer"} <= outcomes
        assert attempts.filter(party="caregiver", outcome="reached").exists()
        first = Patient.objects.filter(status=Status.ENROLLED).order_by("mrn").first()
        this = practice.this_month()
        mine = attempts.filter(patient=first, month=this)
        assert mine.count() >= 3
        assert all(a.outcome in UNANSWERED for a in mine)
        assert MonthProgress.objects.get(patient=first, month=this).unanswered_attempts >= 3
        seeded = Counter(attempts.values_list("patient_id", "month"))
    # A re-run may time a patient-month that had no time yet (and its calls); it adds nothing
    # to a patient-month that has attempts.
    call_command("seed_demo", stdout=io.StringIO())
    with practice_scope(practice):
        again = Counter(ContactAttempt.objects.values_list("patient_id", "month"))
        assert {key: again[key] for key in seeded} == seeded
        assert ContactAttempt.objects.count() >= total
