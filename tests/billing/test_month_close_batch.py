"""A month close batch's own reads and writes (issue 18): its patients locked by the batch's
id range, its coverage read as plain rows by that range and equal to coverage_in_force, the
COPY rows' ids and defaults. Timings are in bench/month_close.py."""

import datetime as dt
import uuid
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.close import bulk, services
from billing.close.coverage import NO_COVER, batch_coverage, claim_stamps
from billing.models import Claim, Outcome
from ccm.tenancy import practice_scope
from patients import engine_inputs
from patients.models import Coverage, Patient
from patients.selectors import coverage_in_force
from tests.billing.test_month_close import OCTOBER, _cast, _close
from tests.factories import CoverageFactory, PatientFactory, PayerFactory


def test_lock_patients_by_id_range_locks_every_patient_between_in_id_order(practice):
    ids = sorted(PatientFactory(practice=practice).pk for _ in range(5))
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = engine_inputs.lock_patients(practice, (), id_range=(ids[1], ids[3]))
    assert locked == ids[1:4]
    (sql,) = [q["sql"] for q in queries.captured_queries]
    # Two bounds, no list of ids; the rows locked in the one lock order.
    assert " IN (" not in sql
    assert sql.endswith("FOR UPDATE")
    assert "ORDER BY 1 ASC" in sql  # the id


def test_lock_patients_takes_ids_or_a_range_not_both(practice):
    patient = PatientFactory(practice=practice)
    with transaction.atomic(), pytest.raises(TypeError):
        engine_inputs.lock_patients(practice, [patient.pk], id_range=(patient.pk, patient.pk))


def test_lock_patients_by_range_keeps_to_the_practice(practice, other_practice):
    mine = PatientFactory(practice=practice)
    theirs = PatientFactory(practice=other_practice)
    low, high = sorted((mine.pk, theirs.pk))
    with transaction.atomic():
        assert engine_inputs.lock_patients(practice, (), id_range=(low, high)) == [mine.pk]


def test_the_close_locks_and_reads_coverage_by_the_batchs_bounds(practice, physician, coordinator):
    _cast(practice, physician, coordinator)
    with (
        mock.patch.object(services, "BATCH", 2),
        CaptureQueriesContext(connection) as queries,
    ):
        _close(practice)
    sql = [q["sql"] for q in queries.captured_queries]
    locks = [s for s in sql if s.startswith('SELECT "patients_patient"') and "FOR UPDATE" in s]
    coverage = [s for s in sql if 'FROM "patients_coverage"' in s]
    assert len(locks) == len(coverage) == 2  # four patients, two batches
    assert all(">=" in s and "<=" in s and " IN (" not in s for s in locks + coverage)


def test_batch_coverage_is_coverage_in_force(practice, physician, coordinator):
    """The close's plain-row read picks the rows coverage_in_force picks: none, ended, not
    started, two primaries (the later start wins), Medicare Advantage with its payer, MSP with
    a secondary."""
    patients = _cast(practice, physician, coordinator, count=6)
    plan = PayerFactory(practice=practice)
    Coverage.objects.unscoped().filter(patient__in=patients).delete()
    CoverageFactory(patient=patients[1], ends_on=dt.date(2026, 9, 30))
    CoverageFactory(patient=patients[2], starts_on=dt.date(2026, 11, 1))
    CoverageFactory(
        patient=patients[3], starts_on=dt.date(2020, 1, 1), ends_on=dt.date(2026, 10, 31)
    )
    CoverageFactory(patient=patients[3], starts_on=dt.date(2026, 10, 15), member_id="2EG4TE5MK73")
    CoverageFactory(patient=patients[4], kind="medicare_advantage", payer=plan)
    CoverageFactory(patient=patients[5], kind="other_primary")
    CoverageFactory(patient=patients[5], priority="secondary", kind="part_b")
    ids = sorted(p.pk for p in patients)
    with practice_scope(practice):
        general = coverage_in_force(practice=practice, patient_ids=ids, month=OCTOBER)
        batch = batch_coverage(practice, (ids[0], ids[-1]), OCTOBER)

    def rows(cover):
        return tuple(
            None if row is None else (row.pk, row.kind, row.payer_id)
            for row in (cover.primary, cover.secondary)
        )

    assert {pk: rows(batch.get(pk, NO_COVER)) for pk in ids} == {
        pk: rows(general[pk]) for pk in ids
    }
    assert batch[patients[3].pk].primary.pk == (
        Coverage.objects.unscoped().get(patient=patients[3], starts_on=dt.date(2026, 10, 15)).pk
    )
    # The claim's stamps from either: the MA plan pays; MSP goes second (S).
    for pk in ids:
        assert claim_stamps(batch.get(pk, NO_COVER)) == claim_stamps(general[pk])
    assert claim_stamps(batch[patients[4].pk])["payer_id"] == plan.pk
    assert claim_stamps(batch[patients[5].pk])["payer_responsibility"] == "S"


def test_new_ids_are_version_4_uuids_each_once():
    ids = bulk.new_ids()
    drawn = [next(ids) for _ in range(1000)]  # several draws of randomness
    parsed = [uuid.UUID(text) for text in drawn]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == drawn
    assert len(set(drawn)) == len(drawn)


def test_copy_rows_wants_every_per_row_default_given(practice):
    without_created = tuple(name for name in services.OUTCOME_COLUMNS if name != "created_at")
    with pytest.raises(ValueError, match=r"Outcome\.created_at"):
        bulk.copy_rows(Outcome, without_created, [])
    with pytest.raises(ValueError, match="no field"):
        bulk.copy_rows(Claim, (*services.CLAIM_COLUMNS, "nonsense"), [])


def test_the_closes_rows_take_the_models_defaults(practice, physician, coordinator):
    _cast(practice, physician, coordinator)
    _close(practice)
    claim = Claim.objects.for_practice(practice).first()
    assert claim is not None
    defaults = {
        name: Claim._meta.get_field(name).get_default()
        for name in ("status", "denial_reason", "paid_amount", "payer_claim_number")
    }
    assert {name: getattr(claim, name) for name in defaults} == defaults
    assert claim.status_changed_at is None
    assert claim.exported_at is None
    assert Patient.objects.for_practice(practice).filter(pk=claim.patient_id).exists()
