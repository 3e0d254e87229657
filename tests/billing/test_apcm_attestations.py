"""APCM attestations (R39): the practice's attestation of every APCM service element and each
billing practitioner's focal-point attestation. The month rule (billing.setup.apcm), the
service (admins only, bad input saves nothing, audited, history kept), the page and the API
(outsiders 404, other roles 403), and `apcm_attested` reaching the engine from every loader."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from billing import rules
from billing.inputs import loading
from billing.models import APCM_ELEMENTS, ApcmPracticeAttestation, ApcmPractitionerAttestation
from billing.progress import one_patient
from billing.setup import apcm, apcm_services
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from tests.factories import MembershipFactory, PatientFactory
from tests.helpers import assert_form_error, token_client

URL = "/billing/apcm/"
API = "/api/v1/billing/apcm/"
NOW = dt.datetime(2026, 11, 10, 15, tzinfo=dt.UTC)  # 10 November in New York
OCT, NOV = dt.date(2026, 10, 1), dt.date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _november():
    with time_machine.travel(NOW, tick=False):
        yield


def events(practice, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_practice(practice).filter(action=action))


def attest_both(practice, admin, physician, on=dt.date(2026, 10, 1)):
    with practice_scope(practice):
        apcm_services.practice_attest(
            practice=practice, actor=admin, elements=APCM_ELEMENTS, attested_on=on
        )
        return apcm_services.practitioner_attest(
            practice=practice, actor=admin, practitioner_id=physician.pk, attested_on=on
        )


# --- the month rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attested_on", "withdrawn_on", "month", "held"),
    [
        (dt.date(2026, 10, 31), None, OCT, True),  # attested on the month's last day
        (dt.date(2026, 11, 1), None, OCT, False),  # the next day: not October
        (dt.date(2026, 9, 1), dt.date(2026, 10, 15), OCT, True),  # withdrawn mid-month
        (dt.date(2026, 9, 1), dt.date(2026, 10, 15), NOV, False),  # … ends the next months
        (dt.date(2026, 9, 1), dt.date(2026, 10, 1), OCT, False),  # withdrawn from the 1st
        (dt.date(2026, 9, 1), dt.date(2026, 10, 2), OCT, True),  # held on 1 October
        (dt.date(2026, 10, 20), dt.date(2026, 10, 20), OCT, False),  # withdrawn the same day
        (dt.date(2026, 10, 20), dt.date(2026, 10, 21), OCT, True),  # held one day
    ],
)
def test_an_attestation_holds_for_a_month_it_holds_on_one_day_of(
    attested_on, withdrawn_on, month, held
):
    assert apcm.held_in_month(attested_on, withdrawn_on, month) is held


def test_both_attestations_must_hold_for_the_month(practice, admin, physician):
    with practice_scope(practice):
        apcm_services.practice_attest(
            practice=practice, actor=admin, elements=APCM_ELEMENTS, attested_on=OCT
        )
        assert apcm.apcm_attested(practice, physician.pk, OCT) is False  # practice only
        apcm_services.practitioner_attest(
            practice=practice,
            actor=admin,
            practitioner_id=physician.pk,
            attested_on=dt.date(2026, 11, 3),
        )
        assert apcm.apcm_attested(practice, physician.pk, OCT) is False  # practitioner later
        assert apcm.apcm_attested(practice, physician.pk, NOV) is True
        assert apcm.apcm_attested(practice, None, NOV) is False


def test_attested_on_the_last_day_in_the_practices_zone_counts_for_that_month(
    practice, admin, physician
):
    """31 October, 22:30 in New York is already 1 November in UTC: the default date is the
    practice's day, so October is attested (a UTC date would have said November)."""
    evening = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)
    with time_machine.travel(evening, tick=False), practice_scope(practice):
        row = apcm_services.practice_attest(practice=practice, actor=admin, elements=APCM_ELEMENTS)
        apcm_services.practitioner_attest(
            practice=practice, actor=admin, practitioner_id=physician.pk
        )
        assert row.attested_on == dt.date(2026, 10, 31)
        assert apcm.apcm_attested(practice, physician.pk, OCT) is True


def test_a_withdrawal_mid_month_keeps_that_month_and_ends_the_next(practice, admin, physician):
    attest_both(practice, admin, physician, on=dt.date(2026, 9, 1))
    with practice_scope(practice):
        ours = ApcmPracticeAttestation.objects.for_practice(practice).get()
        apcm_services.withdraw(
            practice=practice,
            actor=admin,
            kind="practice",
            attestation_id=ours.pk,
            withdrawn_on=dt.date(2026, 10, 15),
        )
        assert apcm.apcm_attested(practice, physician.pk, OCT) is True
        assert apcm.apcm_attested(practice, physician.pk, NOV) is False
        # History kept: the withdrawn row stays; a new attestation is a new row.
        apcm_services.practice_attest(
            practice=practice, actor=admin, elements=APCM_ELEMENTS, attested_on=NOV
        )
        assert ApcmPracticeAttestation.objects.for_practice(practice).count() == 2
        assert apcm.apcm_attested(practice, physician.pk, NOV) is True


def test_the_selector_is_one_query_for_every_practitioner(practice, admin, physician):
    other = MembershipFactory(practice=practice, role="physician", npi="1234567893")
    attest_both(practice, admin, physician)
    with practice_scope(practice), CaptureQueriesContext(connection) as queries:
        found = apcm.in_force(practice, [OCT, NOV])
        assert found.attested(physician.pk, OCT)
        assert not found.attested(other.pk, OCT)
    assert len(queries.captured_queries) == 1


# --- the service ------------------------------------------------------------------------------


def test_recording_both_is_audited_with_field_names(practice, admin, physician):
    row = attest_both(practice, admin, physician)
    assert row.statement == apcm_services.FOCAL_POINT_STATEMENT
    with practice_scope(practice):
        [made] = events(practice, "apcmpracticeattestation.create")
        [named] = events(practice, "apcmpractitionerattestation.create")
        apcm_services.withdraw(
            practice=practice, actor=admin, kind="practitioner", attestation_id=row.pk
        )
        [gone] = events(practice, "apcmpractitionerattestation.withdraw")
    assert made.actor_id == named.actor_id == gone.actor_id == admin.user_id
    assert gone.object_id == str(row.pk)
    assert gone.changed_fields == ["withdrawn_on"]
    row.refresh_from_db()
    assert row.withdrawn_on == dt.date(2026, 11, 10)
    assert row.withdrawn_by == admin


@pytest.mark.parametrize(
    ("elements", "attested_on", "message"),
    [
        (APCM_ELEMENTS[:-1], None, apcm_services.ELEMENTS_MESSAGE),
        ((*APCM_ELEMENTS, "massage"), None, "massage is not an APCM service element."),
        (APCM_ELEMENTS, dt.date(2026, 12, 1), apcm_services.FUTURE_MESSAGE),
        (APCM_ELEMENTS, "1 Nov", apcm_services.DATE_MESSAGE),
    ],
)
def test_a_bad_practice_attestation_saves_nothing(practice, admin, elements, attested_on, message):
    with practice_scope(practice), pytest.raises(ValidationError) as refused:
        apcm_services.practice_attest(
            practice=practice, actor=admin, elements=elements, attested_on=attested_on
        )
    assert message in str(refused.value)
    assert not ApcmPracticeAttestation.objects.unscoped().exists()
    assert not events(practice, "apcmpracticeattestation.create")


def test_a_second_attestation_in_force_is_refused(practice, admin, physician):
    attest_both(practice, admin, physician)
    with practice_scope(practice):
        with pytest.raises(ValidationError, match="withdraw it first"):
            apcm_services.practice_attest(practice=practice, actor=admin, elements=APCM_ELEMENTS)
        with pytest.raises(ValidationError, match="withdraw it first"):
            apcm_services.practitioner_attest(
                practice=practice, actor=admin, practitioner_id=physician.pk
            )
    assert ApcmPractitionerAttestation.objects.unscoped().count() == 1


def test_only_a_billing_practitioner_attests(practice, admin, coordinator, outsider):
    no_npi = MembershipFactory(practice=practice, role="physician", npi="")
    with practice_scope(practice):
        for member in (no_npi, coordinator, admin):
            with pytest.raises(ValidationError, match="with an NPI"):
                apcm_services.practitioner_attest(
                    practice=practice, actor=admin, practitioner_id=member.pk
                )
        with pytest.raises(Http404):  # a member of another practice
            apcm_services.practitioner_attest(
                practice=practice, actor=admin, practitioner_id=outsider.pk
            )
    assert not ApcmPractitionerAttestation.objects.unscoped().exists()


def test_only_admins_record_or_withdraw(practice, admin, physician, biller):
    row = attest_both(practice, admin, physician)
    with practice_scope(practice):
        for member in (physician, biller):
            with pytest.raises(PermissionDenied):
                apcm_services.practice_attest(
                    practice=practice, actor=member, elements=APCM_ELEMENTS
                )
            with pytest.raises(PermissionDenied):
                apcm_services.withdraw(
                    practice=practice, actor=member, kind="practitioner", attestation_id=row.pk
                )
    row.refresh_from_db()
    assert row.withdrawn_on is None


def test_a_bad_withdrawal_saves_nothing(practice, admin, physician):
    row = attest_both(practice, admin, physician, on=dt.date(2026, 10, 20))
    with practice_scope(practice):
        cases = [
            (dt.date(2026, 10, 19), "cannot be dated before the attestation (2026-10-20)"),
            (dt.date(2026, 12, 1), apcm_services.FUTURE_MESSAGE),
        ]
        for day, message in cases:
            with pytest.raises(ValidationError) as refused:
                apcm_services.withdraw(
                    practice=practice,
                    actor=admin,
                    kind="practitioner",
                    attestation_id=row.pk,
                    withdrawn_on=day,
                )
            assert message in str(refused.value)
        apcm_services.withdraw(
            practice=practice, actor=admin, kind="practitioner", attestation_id=row.pk
        )
        with pytest.raises(ValidationError, match="already withdrawn"):
            apcm_services.withdraw(
                practice=practice, actor=admin, kind="practitioner", attestation_id=row.pk
            )
    assert len(events(practice, "apcmpractitionerattestation.withdraw")) == 1


# --- the engine input ------------------------------------------------------------------------


def _apcm(pm: rules.PatientMonth) -> rules.PatientMonth:
    """The month as an APCM month (program enrolment does not exist yet)."""
    return dataclasses.replace(pm, program="apcm")


def test_every_loader_passes_apcm_attested_to_the_engine(practice, admin, physician):
    patient = PatientFactory(practice=practice, billing_practitioner=physician)
    unattested = PatientFactory(practice=practice, billing_practitioner=None)
    attest_both(practice, admin, physician)
    with practice_scope(practice):
        _, general = loading.load_patient_months(
            practice=practice, patient_ids=[patient.pk, unattested.pk], months=[OCT]
        )
        _, batch = loading.load_month_batch(
            practice=practice, patient_ids=[patient.pk, unattested.pk], month=OCT
        )
        found = one_patient.load(practice, patient.pk, None)
        single = one_patient.patient_month(practice, found, found.patient, OCT, rules.FeeSchedule())
    assert general[(patient.pk, OCT)].apcm_attested is True
    assert batch[patient.pk].apcm_attested is True
    assert single.apcm_attested is True
    assert general[(unattested.pk, OCT)].apcm_attested is False
    assert batch[unattested.pk].apcm_attested is False
    # The engine reads it for an APCM month: R39 is not among the gates that failed.
    result = rules.evaluate(_apcm(general[(patient.pk, OCT)]))
    assert "R39" not in result.blocked_by
    blocked = rules.evaluate(_apcm(general[(unattested.pk, OCT)]))
    assert "R39" in blocked.blocked_by


def test_without_attestations_the_loaded_apcm_month_is_blocked_by_r39(practice, physician):
    patient = PatientFactory(practice=practice, billing_practitioner=physician)
    with practice_scope(practice):
        _, batch = loading.load_month_batch(practice=practice, patient_ids=[patient.pk], month=OCT)
    assert batch[patient.pk].apcm_attested is False
    assert "R39" in rules.evaluate(_apcm(batch[patient.pk])).blocked_by


# --- the page ---------------------------------------------------------------------------------


def _practice_post(**changes):
    data = {"action": "practice", "practice-elements": list(APCM_ELEMENTS)}
    data.update(changes)
    return data


def test_an_admin_records_both_on_the_page_and_sees_the_gate(
    admin_client, practice, admin, physician
):
    page = admin_client.get(URL)
    assert page.status_code == 200
    assert "Blocked (R39)" in page.content.decode()
    response = admin_client.post(URL, _practice_post(**{"practice-attested_on": "2026-11-02"}))
    assert response.status_code == 302
    response = admin_client.post(
        URL, {"action": "practitioner", "practitioner-practitioner_id": str(physician.pk)}
    )
    assert response.status_code == 302
    html = admin_client.get(URL).content.decode()
    assert 'status-enrolled">Attested<' in html
    assert "Blocked (R39)" not in html
    assert "Nov 2, 2026" in html
    assert "Record practice attestation" not in html  # in force: withdraw it first
    row = ApcmPractitionerAttestation.objects.unscoped().get()
    response = admin_client.post(f"{URL}practitioner/{row.pk}/withdraw/", {})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.withdrawn_on == dt.date(2026, 11, 10)


def test_the_page_refuses_bad_input_and_saves_nothing(admin_client, practice, admin, physician):
    bad = _practice_post(**{"practice-elements": list(APCM_ELEMENTS[:2])})
    assert_form_error(admin_client.post(URL, bad), apcm_services.ELEMENTS_MESSAGE)
    future = _practice_post(**{"practice-attested_on": "2026-12-01"})
    assert_form_error(admin_client.post(URL, future), apcm_services.FUTURE_MESSAGE)
    assert not ApcmPracticeAttestation.objects.unscoped().exists()
    row = attest_both(practice, admin, physician, on=dt.date(2026, 10, 20))
    early = admin_client.post(
        f"{URL}practitioner/{row.pk}/withdraw/", {"withdrawn_on": "2026-10-01"}
    )
    assert_form_error(early, "cannot be dated before the attestation")
    row.refresh_from_db()
    assert row.withdrawn_on is None


def test_the_page_other_roles_read_or_get_403(
    biller_client, coordinator_client, physician_client, practice, admin, physician
):
    row = attest_both(practice, admin, physician)
    assert biller_client.get(URL).status_code == 200
    assert "Record practice attestation" not in biller_client.get(URL).content.decode()
    assert coordinator_client.get(URL).status_code == 403
    assert biller_client.post(URL, _practice_post()).status_code == 403
    assert physician_client.post(f"{URL}practitioner/{row.pk}/withdraw/", {}).status_code == 403
    row.refresh_from_db()
    assert row.withdrawn_on is None


def test_the_page_keeps_outsiders_out(outsider_client, practice, admin, physician):
    row = attest_both(practice, admin, physician)
    response = outsider_client.post(f"{URL}practitioner/{row.pk}/withdraw/", {})
    assert response.status_code == 404
    response = outsider_client.post(f"{URL}nonsense/{row.pk}/withdraw/", {})
    assert response.status_code == 404
    row.refresh_from_db()
    assert row.withdrawn_on is None


# --- the API ----------------------------------------------------------------------------------


def test_the_api_records_lists_and_withdraws(practice, admin, physician):
    client = token_client(admin)
    made = client.post(
        f"{API}practice-attestations/",
        {"elements": list(APCM_ELEMENTS), "attested_on": "2026-10-31"},
        format="json",
    )
    assert made.status_code == 201, made.json()
    assert made.json()["attested_on"] == "2026-10-31"
    named = client.post(
        f"{API}practitioner-attestations/",
        {"practitioner_id": str(physician.pk)},
        format="json",
    )
    assert named.status_code == 201, named.json()
    assert named.json()["attested_on"] == "2026-11-10"
    listed = client.get(f"{API}practitioner-attestations/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["withdrawn_on"] is None
    gone = client.post(
        f"{API}practice-attestations/{made.json()['id']}/withdraw/",
        {"withdrawn_on": "2026-11-05"},
        format="json",
    )
    assert gone.status_code == 200
    assert gone.json()["withdrawn_on"] == "2026-11-05"
    assert client.get(f"{API}practice-attestations/").json()["count"] == 1
    assert events(practice, "apcmpracticeattestation.withdraw")


def test_the_api_refuses_bad_input_and_saves_nothing(practice, admin, physician):
    client = token_client(admin)
    cases = [
        {"elements": list(APCM_ELEMENTS[:3])},
        {"elements": list(APCM_ELEMENTS), "attested_on": "2027-01-01"},
        {"elements": list(APCM_ELEMENTS), "extra": 1},
    ]
    for body in cases:
        answer = client.post(f"{API}practice-attestations/", body, format="json")
        assert answer.status_code == 400, body
    no_npi = MembershipFactory(practice=practice, role="physician", npi="")
    answer = client.post(
        f"{API}practitioner-attestations/", {"practitioner_id": str(no_npi.pk)}, format="json"
    )
    assert answer.status_code == 400
    assert not ApcmPracticeAttestation.objects.unscoped().exists()
    assert not ApcmPractitionerAttestation.objects.unscoped().exists()


def test_the_api_answers_outsiders_404_and_other_roles_403(
    practice, admin, physician, biller, outsider
):
    row = attest_both(practice, admin, physician)
    mine = token_client(admin)
    theirs = token_client(outsider)
    assert (
        mine.post(
            f"{API}practitioner-attestations/",
            {"practitioner_id": str(outsider.pk)},
            format="json",
        ).status_code
        == 404
    )
    assert (
        theirs.post(
            f"{API}practitioner-attestations/{row.pk}/withdraw/", {}, format="json"
        ).status_code
        == 404
    )
    assert theirs.get(f"{API}practitioner-attestations/").json()["count"] == 0
    reader = token_client(biller)
    assert reader.get(f"{API}practitioner-attestations/").status_code == 200
    assert (
        reader.post(
            f"{API}practitioner-attestations/{row.pk}/withdraw/", {}, format="json"
        ).status_code
        == 403
    )
    assert (
        reader.post(
            f"{API}practice-attestations/", {"elements": list(APCM_ELEMENTS)}, format="json"
        ).status_code
        == 403
    )
    row.refresh_from_db()
    assert row.withdrawn_on is None
