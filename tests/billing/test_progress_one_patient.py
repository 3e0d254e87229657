"""The worklist refresh of one patient (billing.progress.one_patient, one query) computes the
same rows as the loader the close and the reconcile use (billing.inputs.loading), on the demo
practice (entries, adjustments, conditions, consents, care plans, coverage, contacts), with a
practice policy, fee schedule, other services and month facts of its own."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import BillingPolicy, FeeSchedule, OtherService, PatientMonthFacts
from billing.progress import services as progress_services
from ccm.models import Membership, Practice
from ccm.months import previous_month
from ccm.tenancy import practice_scope
from patients.models import Patient


def _rows(rows, months):
    return sorted((r.patient_id, r.month, r.values()) for r in rows if r.month in months)


@pytest.mark.django_db
def test_one_patient_refresh_equals_the_loader():
    call_command("seed_demo", verbosity=0)
    practice = Practice.objects.get(slug="demo")
    with practice_scope(practice):
        this = practice.this_month()
        patients = list(Patient.objects.for_practice(practice).order_by("mrn"))
        BillingPolicy.objects.for_practice(practice).create(
            practice=practice, cap_99437=1, count_minutes_on_consent_date=False
        )
        FeeSchedule.objects.for_practice(practice).create(
            practice=practice, code="99490", amount=Decimal("61.25")
        )
        OtherService.objects.for_practice(practice).create(
            practice=practice,
            patient=patients[0],
            service_on=this,
            code="99491",
            created_by=Membership.objects.for_practice(practice).first(),
        )
        PatientMonthFacts.objects.for_practice(practice).create(
            practice=practice, patient=patients[1], month=this, ccm_billed_elsewhere=True
        )
        checked = 0
        for months in ([this], [previous_month(this)], [previous_month(this), this]):
            for patient in patients:
                expected = progress_services.progress_compute(
                    practice=practice, patient_ids=[patient.pk], months=months
                )
                with CaptureQueriesContext(connection) as queries:
                    got = progress_services.progress_compute_one(
                        practice=practice, patient_id=patient.pk, months=months
                    )
                assert len(queries) == 1
                assert _rows(got, months) == _rows(expected, months), patient.mrn
                checked += len(expected)
        assert checked > 100
