"""Care plan services: templates prefill, one draft, R12 completeness, signing with
re-authentication, immutability on every path, copies, engine facts."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import ProgrammingError, transaction

from careplans import content, services
from careplans.models import CarePlan, CarePlanCopy, CarePlanVersion, VersionStatus
from ccm.models import AuditEvent
from patients.models import MedicationReconciliation
from tests.careplans.conftest import COMPLETE, TODAY
from tests.factories import PASSWORD, enroll_totp, staff_time, totp_code
from tests.helpers import audited
from timelog.models import MonthProgress

pytestmark = pytest.mark.usefixtures("frozen", "scoped")


def test_a_first_draft_takes_the_problem_list_and_the_matching_templates(
    practice, coordinator, patient
):
    services.templates_ensure(practice=practice)
    draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
    body = draft.content
    assert [p["code"] for p in body["problems"]] == ["E11.9", "I10"]
    goals = [g["goal"] for g in body["goals"]]
    assert "Lower average blood sugar" in goals  # Diabetes template (E11)
    assert "Control blood pressure" in goals  # Hypertension template (I10)
    assert "Heart failure" not in body["expected_outcome"]
    assert all(i["responsible"] for i in body["interventions"])
    assert draft.number == 1
    assert draft.status == VersionStatus.DRAFT
    assert audited("careplanversion.create", patient_id=patient.pk)


def test_chosen_templates_replace_the_matching_ones(practice, coordinator, patient):
    services.templates_ensure(practice=practice)
    copd = practice_template(practice, "COPD")
    draft = services.draft_start(
        practice=practice, actor=coordinator, patient=patient, template_ids=[copd.pk]
    )
    assert [g["goal"] for g in draft.content["goals"]] == [
        "Prevent flare-ups",
        "Use inhalers correctly",
    ]


def practice_template(practice, name):
    from careplans.models import CarePlanTemplate

    return CarePlanTemplate.objects.for_practice(practice).get(name=name)


def test_one_draft_at_a_time(practice, coordinator, patient, draft):
    with pytest.raises(ValidationError, match="already has a draft"):
        services.draft_start(practice=practice, actor=coordinator, patient=patient)
    assert CarePlanVersion.objects.count() == 1


def test_bad_content_is_refused_naming_the_field_and_nothing_is_saved(practice, coordinator, draft):
    before = dict(draft.content)
    with pytest.raises(ValidationError) as exc:
        services.draft_update(
            practice=practice,
            actor=coordinator,
            version=draft,
            data={"goals": [{"goal": "Walk", "due_on": "next week"}], "caregiver": "x"},
        )
    assert exc.value.message_dict == {"goals": [content.DATE_MESSAGE]}
    draft.refresh_from_db()
    assert draft.content == before


def test_signing_needs_every_r12_element(practice, physician, draft):
    with pytest.raises(ValidationError, match="not complete") as exc:
        services.version_sign(practice=practice, actor=physician, version=draft, password=PASSWORD)
    assert "Prognosis is blank." in str(exc.value)
    assert content.NOT_RECONCILED_MESSAGE not in str(exc.value)  # the chart has one


def test_signing_needs_a_reconciliation_on_the_chart(practice, physician, complete_draft):
    MedicationReconciliation.objects.filter(patient_id=complete_draft.patient_id).delete()
    with pytest.raises(ValidationError, match="not complete") as exc:
        services.version_sign(
            practice=practice, actor=physician, version=complete_draft, password=PASSWORD
        )
    assert content.NOT_RECONCILED_MESSAGE in str(exc.value)


def test_a_physician_signs_with_the_password_recording_signer_time_and_hash(
    practice, physician, complete_draft
):
    signed = services.version_sign(
        practice=practice, actor=physician, version=complete_draft, password=PASSWORD
    )
    assert signed.status == VersionStatus.SIGNED
    assert signed.signed_by == physician
    assert signed.signed_on == TODAY
    assert signed.content_sha256 == content.digest(signed.content)
    assert len(signed.content_sha256) == 64
    plan = CarePlan.objects.get()
    assert plan.next_review_on == dt.date(2027, 10, 20)  # 12 months (practice setting)


def test_an_authenticator_code_also_reauthenticates(practice, physician, complete_draft):
    secret = enroll_totp(physician.user)
    with totp_code(secret) as code:
        signed = services.version_sign(
            practice=practice, actor=physician, version=complete_draft, code=code
        )
    assert signed.status == VersionStatus.SIGNED


def test_a_code_typed_as_its_30_seconds_end_still_signs_in_the_test(
    practice, physician, complete_draft
):
    # 1 ms before a step ends, with the clock running: computing the code and checking it
    # straddle the step unless totp_code holds the clock (the flake of issue 14, point 13).
    secret = enroll_totp(physician.user)
    step_end = dt.datetime(2026, 10, 20, 15, 0, 29, 999_000, tzinfo=dt.UTC)
    with time_machine.travel(step_end, tick=True), totp_code(secret) as code:
        signed = services.version_sign(
            practice=practice, actor=physician, version=complete_draft, code=code
        )
    assert signed.status == VersionStatus.SIGNED


def test_a_wrong_or_missing_password_signs_nothing_and_is_audited(
    practice, physician, complete_draft
):
    with pytest.raises(ValidationError, match=services.REAUTH_MISSING_MESSAGE):
        services.version_sign(practice=practice, actor=physician, version=complete_draft)
    with pytest.raises(ValidationError, match="not right"):
        services.version_sign(
            practice=practice, actor=physician, version=complete_draft, password="guess"
        )
    complete_draft.refresh_from_db()
    assert complete_draft.status == VersionStatus.DRAFT
    assert AuditEvent.objects.unscoped().filter(action="careplanversion.sign_refused").count() == 1


def test_five_wrong_passwords_block_signing_for_a_while(practice, physician, complete_draft):
    for _ in range(services.REAUTH_LIMIT):
        with pytest.raises(ValidationError):
            services.version_sign(
                practice=practice, actor=physician, version=complete_draft, password="guess"
            )
    with pytest.raises(ValidationError, match="Too many"):
        services.version_sign(
            practice=practice, actor=physician, version=complete_draft, password=PASSWORD
        )


def test_only_a_physician_signs(practice, coordinator, admin, complete_draft):
    for actor in (coordinator, admin):
        with pytest.raises(PermissionDenied):
            services.version_sign(
                practice=practice, actor=actor, version=complete_draft, password=PASSWORD
            )


def test_signing_twice_is_a_conflict(practice, physician, signed):
    with pytest.raises(services.VersionSigned):
        services.version_sign(practice=practice, actor=physician, version=signed, password=PASSWORD)


def test_a_signed_version_refuses_every_service_write(practice, coordinator, signed):
    for call in (
        lambda: services.draft_update(
            practice=practice, actor=coordinator, version=signed, data={"caregiver": "x"}
        ),
        lambda: services.draft_submit(practice=practice, actor=coordinator, version=signed),
        lambda: services.draft_discard(practice=practice, actor=coordinator, version=signed),
    ):
        with pytest.raises(services.VersionSigned):
            call()
    signed.refresh_from_db()
    assert signed.content["caregiver"] == COMPLETE["caregiver"]


@pytest.mark.parametrize(
    "change",
    [
        {"content": {"caregiver": "changed"}},
        {"content_sha256": "0" * 64},
        {"signed_on": dt.date(2020, 1, 1)},
        {"status": "draft"},
    ],
)
def test_the_database_refuses_changing_a_signed_version(signed, change):
    with pytest.raises(ProgrammingError, match="cannot be changed"), transaction.atomic():
        CarePlanVersion.objects.unscoped().filter(pk=signed.pk).update(**change)


def test_the_database_refuses_deleting_a_signed_version(signed):
    with pytest.raises(ProgrammingError, match="cannot be deleted"), transaction.atomic():
        CarePlanVersion.objects.unscoped().filter(pk=signed.pk).delete()


def test_revising_starts_from_the_signed_version_and_signing_supersedes_it(
    practice, coordinator, physician, signed, patient
):
    revision = services.draft_start(practice=practice, actor=coordinator, patient=patient)
    assert revision.number == 2
    assert revision.based_on == signed
    # The same plan; the medication section reads the chart again (careplans.chart_sections).
    assert revision.content == {
        **signed.content,
        "medications": [],
        "medications_reconciled_on": "",
    }
    services.draft_update(
        practice=practice, actor=coordinator, version=revision, data={"barriers": "None now."}
    )
    services.version_sign(practice=practice, actor=physician, version=revision, password=PASSWORD)
    signed.refresh_from_db()
    assert signed.status == VersionStatus.SUPERSEDED
    assert CarePlanVersion.objects.filter(status="signed").get().pk == revision.pk


def test_a_copy_is_recorded_for_the_signed_version_only_with_sane_dates(
    practice, coordinator, signed, patient
):
    draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
    with pytest.raises(ValidationError, match="current signed"):
        services.copy_record(
            practice=practice, actor=coordinator, version=draft, given_on=TODAY, method="mail"
        )
    with pytest.raises(ValidationError, match="future"):
        services.copy_record(
            practice=practice,
            actor=coordinator,
            version=signed,
            given_on=TODAY + dt.timedelta(days=1),
            method="mail",
        )
    copy = services.copy_record(
        practice=practice, actor=coordinator, version=signed, given_on=TODAY, method="portal"
    )
    assert CarePlanCopy.objects.get() == copy


def test_signing_and_the_copy_refresh_the_worklist_progress(
    practice, coordinator, physician, complete_draft, patient
):
    from billing.progress import services as progress_services

    staff_time(patient, coordinator, physician, dt.datetime(2026, 10, 5, 14, tzinfo=dt.UTC), 25)
    before = MonthProgress.objects.get(patient=patient).computed_at
    signed = services.version_sign(
        practice=practice, actor=physician, version=complete_draft, password=PASSWORD
    )
    services.copy_record(
        practice=practice, actor=coordinator, version=signed, given_on=TODAY, method="portal"
    )
    assert MonthProgress.objects.get(patient=patient).computed_at >= before
    (fresh,) = progress_services.progress_compute(
        practice=practice, patient_ids=[patient.pk], months=[dt.date(2026, 10, 1)]
    )
    assert MonthProgress.objects.get(patient=patient).values() == fresh.values()


def test_admins_edit_templates_with_clean_prefixes(practice, admin, coordinator):
    services.templates_ensure(practice=practice)
    template = practice_template(practice, "Diabetes")
    updated = services.template_update(
        practice=practice,
        actor=admin,
        template=template,
        data={
            "icd10_prefixes": "e11, E13",
            "goals": [{"goal": "Walk", "target": "30 min", "measure": "log"}],
        },
    )
    assert updated.icd10_prefixes == "E11, E13"
    assert updated.goals == [{"goal": "Walk", "target": "30 min", "measure": "log"}]
    with pytest.raises(ValidationError, match="prefixes"):
        services.template_update(
            practice=practice, actor=admin, template=template, data={"icd10_prefixes": "1; x"}
        )
    with pytest.raises(PermissionDenied):
        services.template_update(practice=practice, actor=coordinator, template=template, data={})


def test_default_templates_are_added_once(practice):
    assert services.templates_ensure(practice=practice) == 6
    assert services.templates_ensure(practice=practice) == 0


def test_a_blank_editor_row_is_dropped_even_with_its_status_picked():
    cleaned = content.clean({"goals": [{"goal": "", "target": "", "status": "in_progress"}]})
    assert cleaned["goals"] == []
