"""The audit log page names patients and objects (within the practice only) and filters by a
patient search; the API keeps its patient id filter."""

from __future__ import annotations

import datetime as dt
import itertools

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ccm import audit
from ccm.models import AuditEvent
from tests.factories import PatientFactory, TimeEntryFactory
from tests.helpers import token_client


def _read(member, patient):
    return audit.record_for(member, "patient.read", obj=patient, patient_id=patient.pk)


def test_audit_page_shows_patient_and_object_names(admin_client, admin, coordinator, practice):
    patient = PatientFactory(practice=practice, first_name="Zelda", last_name="Quint", mrn="Q-1")
    entry = TimeEntryFactory(practice=practice, patient=patient, performer=coordinator)
    _read(coordinator, patient)
    audit.record_for(coordinator, "time_entry.create", obj=entry, patient_id=patient.pk)
    audit.record_for(admin, "membership.update", obj=coordinator)
    page = admin_client.get("/audit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Quint, Zelda (Q-1)" in html
    assert "Patient: Quint, Zelda" in html
    assert "Time entry: 10 min on 2026-01-12" in html
    assert f"Membership: {coordinator.user}" in html
    assert f'<span class="muted">{patient.pk}</span>' not in html


def test_audit_page_never_names_another_practices_patient(admin_client, admin, other_practice):
    theirs = PatientFactory(practice=other_practice, first_name="Otto", last_name="Elsewhere")
    # An event of this practice that carries another practice's ids (it cannot happen through
    # the services; the page still resolves nothing outside the practice).
    audit.record_for(admin, "patient.read", obj=theirs, patient_id=theirs.pk)
    html = admin_client.get("/audit/").content.decode()
    assert "Elsewhere" not in html
    assert str(theirs.pk) in html
    for text in ("Elsewhere", "Otto"):
        assert b"No events match" in admin_client.get("/audit/", {"patient": text}).content


def test_audit_page_filters_by_patient_name_mrn_or_id(admin_client, coordinator, practice):
    quint = PatientFactory(practice=practice, first_name="Zelda", last_name="Quint", mrn="Q-1")
    other = PatientFactory(practice=practice, first_name="Abe", last_name="Other", mrn="O-2")
    _read(coordinator, quint)
    _read(coordinator, other)
    for text in ("Quint", "zel qui", "Q-1", str(quint.pk)):
        html = admin_client.get("/audit/", {"patient": text}).content.decode()
        assert "Quint, Zelda" in html, text
        assert "Other, Abe" not in html, text
    html = admin_client.get("/audit/", {"patient": "Nobody"}).content.decode()
    assert "No events match" in html


def test_audit_page_reads_a_fixed_number_of_queries(
    admin_client, admin, coordinator, practice, django_assert_num_queries
):
    start = dt.datetime(2026, 1, 12, 15, 0, tzinfo=dt.UTC)
    slot = itertools.count()

    def events(n):
        for _ in range(n):
            patient = PatientFactory(practice=practice)
            entry = TimeEntryFactory(
                practice=practice,
                patient=patient,
                performer=coordinator,
                started_at=start + dt.timedelta(minutes=15 * next(slot)),
            )
            _read(coordinator, patient)
            audit.record_for(coordinator, "time_entry.create", obj=entry, patient_id=patient.pk)
            audit.record_for(admin, "membership.update", obj=coordinator)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get("/audit/").status_code == 200
        return len(ctx)

    events(2)
    admin_client.get("/audit/")  # the session's first page does its own bookkeeping
    few = count()
    events(14)
    assert count() == few
    # Session, the user with its membership (one query), the page of events and its count,
    # the patients' names, one query per object type (patient, time entry, membership).
    assert few == 12
    with django_assert_num_queries(12):
        admin_client.get("/audit/")


def test_audit_page_filter_is_a_get_and_changes_nothing(admin_client, admin):
    before = AuditEvent.objects.unscoped().count()
    admin_client.get("/audit/", {"patient": "Quint"})
    assert AuditEvent.objects.unscoped().count() == before


def test_audit_api_still_filters_by_patient_id(admin, coordinator, practice):
    quint = PatientFactory(practice=practice, last_name="Quint")
    other = PatientFactory(practice=practice, last_name="Other")
    _read(coordinator, quint)
    _read(coordinator, other)
    body = token_client(admin).get("/api/v1/audit-events/", {"patient": str(quint.pk)}).json()
    assert {row["patient_id"] for row in body["results"]} == {str(quint.pk)}
