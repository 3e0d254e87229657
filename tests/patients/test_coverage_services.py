"""Coverage writes (patients.coverage_services): the rules per kind, dates and overlaps, the
role, the audit; nothing is saved on an error."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from patients import coverage_services as cs
from patients.models import Coverage, CoverageKind, PayerKind
from tests.factories import PatientFactory, PayerFactory
from tests.helpers import audited, frozen_clock
from tests.patients.conftest import NOW
from tests.patients.coverage_data import MBI, START, payers

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)


@pytest.fixture
def by_kind(practice):
    return payers(practice)


def _add(practice, actor, patient, **fields):
    return cs.coverage_create(
        practice=practice, actor=actor, patient=patient, **{"starts_on": START, **fields}
    )


def _refused(practice, actor, patient, **fields):
    with pytest.raises(ValidationError) as exc:
        _add(practice, actor, patient, **fields)
    assert not Coverage.objects.filter(patient=patient).exists()
    return exc.value.message_dict


def test_part_b_takes_the_patients_mbi_and_is_primary(practice, coordinator, patient):
    coverage = _add(practice, coordinator, patient, kind=CoverageKind.MEDICARE_PART_B)
    assert (coverage.priority, coverage.member_id, coverage.payer) == ("primary", MBI, None)
    assert coverage.created_by == coordinator
    assert audited("coverage.create", patient_id=patient.pk, object_id=str(coverage.pk))


def test_part_b_member_id_is_normalised_and_checked_as_an_mbi(practice, biller, patient):
    coverage = _add(practice, biller, patient, kind="part_b", member_id="1eg4-te5-mk73")
    assert coverage.member_id == MBI
    coverage.delete()
    errors = _refused(practice, biller, patient, kind="part_b", member_id="12345")
    assert list(errors) == ["member_id"]


def test_part_b_without_any_mbi_asks_for_one(practice, coordinator):
    patient = PatientFactory(practice=practice, mbi="", part_b=False)
    errors = _refused(practice, coordinator, patient, kind="part_b")
    assert errors == {"member_id": [cs.MBI_REQUIRED_MESSAGE]}


def test_part_b_payer_must_be_the_medicare_kind(practice, coordinator, patient, by_kind):
    errors = _refused(
        practice, coordinator, patient, kind="part_b", payer=by_kind[PayerKind.MEDICARE_ADVANTAGE]
    )
    assert errors == {"payer": [cs.PAYER_KIND_MESSAGE.format(kinds=cs.payer_kinds_label("part_b"))]}
    coverage = _add(
        practice, coordinator, patient, kind="part_b", payer=by_kind[PayerKind.MEDICARE]
    )
    assert coverage.payer.payer_id == "01112"


def test_a_priority_that_does_not_match_the_kind_is_refused(practice, coordinator, patient):
    errors = _refused(practice, coordinator, patient, kind="part_b", priority="secondary")
    assert errors == {"priority": ["Medicare Part B is primary coverage."]}


def test_medicare_advantage_needs_its_plan_and_a_member_id(practice, admin, patient, by_kind):
    errors = _refused(practice, admin, patient, kind="medicare_advantage")
    assert errors == {
        "payer": [cs.PAYER_REQUIRED_MESSAGE],
        "member_id": [cs.MEMBER_ID_REQUIRED_MESSAGE],
    }
    errors = _refused(
        practice, admin, patient, kind="medicare_advantage", payer=by_kind[PayerKind.MEDICAID]
    )
    assert set(errors) == {"payer", "member_id"}
    plan = by_kind[PayerKind.MEDICARE_ADVANTAGE]
    coverage = _add(
        practice, admin, patient, kind="medicare_advantage", payer=plan, member_id="H1234-001"
    )
    assert (coverage.priority, coverage.member_id) == ("primary", "H1234-001")


def test_other_primary_needs_a_commercial_payer_and_the_msp_type(
    practice, coordinator, patient, by_kind
):
    errors = _refused(
        practice,
        coordinator,
        patient,
        kind="other_primary",
        payer=by_kind[PayerKind.MEDIGAP],
        member_id="E-1",
    )
    assert set(errors) == {"payer", "msp_type"}
    assert errors["msp_type"] == [cs.MSP_REQUIRED_MESSAGE]
    coverage = _add(
        practice,
        coordinator,
        patient,
        kind="other_primary",
        payer=by_kind[PayerKind.COMMERCIAL],
        member_id="E-1",
        msp_type="12",
    )
    assert coverage.priority == "primary"


def test_msp_type_belongs_to_other_primary_only(practice, coordinator, patient):
    errors = _refused(practice, coordinator, patient, kind="part_b", msp_type="12")
    assert errors == {"msp_type": [cs.MSP_ONLY_MESSAGE]}


@pytest.mark.parametrize(
    ("kind", "payer_kind"),
    [("medicaid", "medicaid"), ("medigap", "medigap"), ("other_secondary", "commercial")],
)
def test_secondary_kinds_need_a_payer_of_their_kind(
    practice, coordinator, patient, by_kind, kind, payer_kind
):
    assert _refused(practice, coordinator, patient, kind=kind, member_id="M-1") == {
        "payer": [cs.PAYER_REQUIRED_MESSAGE]
    }
    wrong = PayerKind.MEDICARE_ADVANTAGE
    assert list(_refused(practice, coordinator, patient, kind=kind, payer=by_kind[wrong])) == [
        "payer",
        "member_id",
    ]
    coverage = _add(
        practice, coordinator, patient, kind=kind, payer=by_kind[payer_kind], member_id="M-1"
    )
    assert coverage.priority == "secondary"


def test_qmb_may_name_medicaid_or_no_payer(practice, coordinator, patient, by_kind):
    alone = _add(practice, coordinator, patient, kind="qmb", ends_on=dt.date(2026, 3, 31))
    assert (alone.priority, alone.payer, alone.member_id) == ("secondary", None, "")
    medicaid = by_kind[PayerKind.MEDICAID]
    later = _add(
        practice, coordinator, patient, kind="qmb", payer=medicaid, starts_on=dt.date(2026, 4, 1)
    )
    assert later.payer == medicaid
    with pytest.raises(ValidationError) as exc:
        _add(
            practice,
            coordinator,
            patient,
            kind="qmb",
            payer=by_kind[PayerKind.MEDIGAP],
            starts_on=dt.date(2027, 1, 1),
        )
    assert list(exc.value.message_dict) == ["payer"]


def test_end_before_start_is_refused(practice, coordinator, patient):
    errors = _refused(practice, coordinator, patient, kind="part_b", ends_on=dt.date(2025, 12, 31))
    assert errors == {"ends_on": [cs.DATES_MESSAGE]}


def test_two_primaries_at_once_are_refused_naming_the_one_in_the_way(
    practice, coordinator, patient, by_kind
):
    _add(practice, coordinator, patient, kind="part_b")
    plan = by_kind[PayerKind.MEDICARE_ADVANTAGE]
    with pytest.raises(ValidationError) as exc:
        _add(
            practice,
            coordinator,
            patient,
            kind="medicare_advantage",
            payer=plan,
            member_id="H-1",
            starts_on=dt.date(2026, 7, 1),
        )
    assert exc.value.message_dict == {
        "starts_on": [
            cs.OVERLAP_MESSAGE.format(
                priority="primary",
                kind="Medicare Part B",
                dates="from 2026-01-01 with no end date",
            )
        ]
    }
    assert Coverage.objects.filter(patient=patient).count() == 1


def test_a_secondary_beside_the_primary_and_a_plan_after_the_end_are_fine(
    practice, coordinator, patient, by_kind
):
    part_b = _add(practice, coordinator, patient, kind="part_b")
    _add(practice, coordinator, patient, kind="medigap", payer=by_kind["medigap"], member_id="G")
    cs.coverage_end(
        practice=practice, actor=coordinator, coverage=part_b, ends_on=dt.date(2026, 6, 30)
    )
    _add(
        practice,
        coordinator,
        patient,
        kind="medicare_advantage",
        payer=by_kind[PayerKind.MEDICARE_ADVANTAGE],
        member_id="H-1",
        starts_on=dt.date(2026, 7, 1),
    )
    assert Coverage.objects.filter(patient=patient).count() == 3
    assert audited("coverage.end", object_id=str(part_b.pk), changed_fields=["ends_on"])


def test_update_audits_the_changed_fields_and_unchanged_writes_nothing(
    practice, biller, patient, by_kind
):
    coverage = _add(practice, biller, patient, kind="part_b")
    data = {"group_number": "G-77", "kind": "part_b"}
    cs.coverage_update(practice=practice, actor=biller, coverage=coverage, data=data)
    assert audited("coverage.update", changed_fields=["group_number"], patient_id=patient.pk)
    cs.coverage_update(practice=practice, actor=biller, coverage=coverage, data=data)
    assert Coverage.objects.get(pk=coverage.pk).group_number == "G-77"
    from ccm.models import AuditEvent

    assert AuditEvent.objects.filter(action="coverage.update").count() == 1


def test_an_update_that_breaks_a_rule_saves_nothing(practice, biller, patient, by_kind):
    coverage = _add(practice, biller, patient, kind="part_b")
    with pytest.raises(ValidationError) as exc:
        cs.coverage_update(
            practice=practice,
            actor=biller,
            coverage=coverage,
            data={"kind": "medicare_advantage", "group_number": "X"},
        )
    assert set(exc.value.message_dict) == {"payer"}
    fresh = Coverage.objects.get(pk=coverage.pk)
    assert (fresh.kind, fresh.group_number) == ("part_b", "")


def test_ending_needs_a_date_on_or_after_the_start(practice, biller, patient):
    coverage = _add(practice, biller, patient, kind="part_b")
    for bad, message in ((None, cs.END_REQUIRED_MESSAGE), (dt.date(2025, 1, 1), cs.DATES_MESSAGE)):
        with pytest.raises(ValidationError) as exc:
            cs.coverage_end(practice=practice, actor=biller, coverage=coverage, ends_on=bad)
        assert exc.value.message_dict == {"ends_on": [message]}
    assert Coverage.objects.get(pk=coverage.pk).ends_on is None


def test_an_inactive_payer_cannot_be_chosen_but_stays_on_its_coverage(
    practice, coordinator, patient
):
    plan = PayerFactory(practice=practice, kind="medicare_advantage")
    coverage = _add(
        practice, coordinator, patient, kind="medicare_advantage", payer=plan, member_id="H"
    )
    plan.is_active = False
    plan.save()
    cs.coverage_end(
        practice=practice, actor=coordinator, coverage=coverage, ends_on=dt.date(2026, 5, 31)
    )
    errors = _refused_later(practice, coordinator, patient, plan)
    assert errors == {"payer": [cs.PAYER_INACTIVE_MESSAGE]}


def _refused_later(practice, actor, patient, plan):
    with pytest.raises(ValidationError) as exc:
        _add(
            practice,
            actor,
            patient,
            kind="medicare_advantage",
            payer=plan,
            member_id="H",
            starts_on=dt.date(2026, 6, 1),
        )
    return exc.value.message_dict


def test_another_practices_payer_is_refused(practice, coordinator, patient, other_practice):
    foreign = PayerFactory(practice=other_practice, kind="medicare_advantage")
    errors = _refused(
        practice, coordinator, patient, kind="medicare_advantage", payer=foreign, member_id="H"
    )
    assert errors == {"payer": [cs.PAYER_PRACTICE_MESSAGE]}


def test_a_physician_may_not_record_coverage(practice, physician, patient):
    with pytest.raises(PermissionDenied):
        _add(practice, physician, patient, kind="part_b")
    assert not Coverage.objects.filter(patient=patient).exists()


def test_changing_the_kind_moves_the_priority_with_it(practice, biller, patient, by_kind):
    coverage = _add(practice, biller, patient, kind="part_b")
    cs.coverage_update(practice=practice, actor=biller, coverage=coverage, data={"kind": "qmb"})
    assert Coverage.objects.get(pk=coverage.pk).priority == "secondary"
    assert audited("coverage.update", changed_fields=["kind", "priority"])
