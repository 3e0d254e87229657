"""EHR candidate-list CSV import: preview (nothing saved), apply (one transaction), re-import."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from ccm import audit
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from patients import imports, services
from patients.models import Condition, ConditionStatus, Patient, PatientImport, Status
from patients.validators import ICD10_NOT_BILLABLE_MESSAGE, ICD10_UNKNOWN_MESSAGE, MBI_MESSAGE
from tests.factories import ConditionFactory, PatientFactory
from tests.helpers import APPLIED, assert_form_error, outcomes_at_once

HEADER = "MRN,First name,Last name,DOB,Sex,Phone,MBI,ICD-10 codes"
ROWS = [
    "E-1,Ada,Lovelace,1948-05-17,F,(518) 555-0101,1EG4-TE5-MK73,E11.9; I10",
    "E-2,Alan,Turing,06/23/1942,male,,,J44.9",
    "E-3,Grace,Hopper,1946-12-09,,518-555-0103,,",
]


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def upload(client, text: str | bytes, name: str = "list.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post("/patients/import/", {"file": SimpleUploadedFile(name, data, "text/csv")})


def preview(practice, actor, text):
    return imports.import_preview(practice=practice, actor=actor, content=text)


def apply(practice, actor, record):
    return imports.import_apply(practice=practice, actor=actor, patient_import=record)


# --- Preview ---------------------------------------------------------------------------------


def test_preview_saves_no_patient_and_redirects_to_its_page(coordinator_client, practice):
    response = upload(coordinator_client, csv_text(*ROWS))
    record = PatientImport.objects.for_practice(practice).get()
    assert response.status_code == 302
    assert response["Location"] == f"/patients/import/{record.pk}/"
    assert not Patient.objects.unscoped().exists()
    assert record.state == PatientImport.State.PREVIEWED
    assert (record.row_count, record.valid_count, record.created_count) == (3, 3, 3)
    page = coordinator_client.get(response["Location"])
    assert "Import 3 valid rows" in page.content.decode()


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("E-9,Bad,Mbi,1950-01-01,F,,0000-BAD,", "mbi", MBI_MESSAGE),
        ("E-9,Bad,Code,1950-01-01,F,,,ZZZ.9", "conditions", ICD10_UNKNOWN_MESSAGE),
        (
            "E-9,Bad,Code,1950-01-01,F,,,E11.9;E11",
            "conditions",
            "Code 2: " + ICD10_NOT_BILLABLE_MESSAGE,
        ),
        ("E-9,Future,Born,2099-01-01,F,,,", "date_of_birth", services.FUTURE_DOB_MESSAGE),
        ("E-9,,Nameless,1950-01-01,F,,,", "first_name", "This field cannot be blank."),
        ("E-9,Bad,Date,17/05/1948,F,,,", "date_of_birth", imports.DATE_MESSAGE),
        ("E-9,Bad,Date,,F,,,", "date_of_birth", imports.REQUIRED_MESSAGE),
        ("E-9,Bad,Phone,1950-01-01,F,555-0199,,", "phone", imports.PHONE_MESSAGE),
        ("E-9,Bad,Sex,1950-01-01,Q,,,", "sex", imports.SEX_MESSAGE),
        ("E 9!,Bad,Mrn,1950-01-01,F,,,", "mrn", "Use letters, digits, . _ or - only."),
    ],
)
def test_row_errors_name_the_row_and_field_and_never_echo_the_value(
    scope, coordinator, row, field, message
):
    record = preview(scope, coordinator, csv_text(ROWS[0], row))
    assert record.errors == [{"row": 2, "field": field, "message": message}]
    assert (record.row_count, record.valid_count) == (2, 1)
    bad_value = row.split(",")[{"mrn": 0, "first_name": 1}.get(field, 6)]
    if bad_value:
        assert bad_value not in str(record.errors)
    assert not Patient.objects.exists()


def test_a_repeated_mrn_is_an_error_on_the_later_row(scope, coordinator):
    record = preview(scope, coordinator, csv_text(*ROWS, "E-1,Ada,Byron,1948-05-17,F,,,"))
    message = imports.DUPLICATE_ROW_MESSAGE.format(row=1)
    assert record.errors == [{"row": 4, "field": "mrn", "message": message}]
    assert record.valid_count == 3


def test_preview_counts_existing_patients_by_mrn_as_updates(scope, coordinator):
    PatientFactory(practice=scope, mrn="E-2")
    PatientFactory(practice=PatientFactory().practice, mrn="E-3")  # another practice's E-3
    record = preview(scope, coordinator, csv_text(*ROWS))
    assert (record.created_count, record.updated_count) == (2, 1)


def test_ehr_header_variants_dates_and_encodings_are_understood(scope, coordinator):
    header = (
        "Medical Record Number,GIVEN,Family Name,Birth Date,Gender,Telephone,Medicare ID,"
        "Diagnoses,Email"
    )
    text = csv_text("X-1,Zoë,Brontë,05/17/1948,female,5185550101,1eg4te5mk73,e119", header=header)
    for content in (text.encode("latin-1"), b"\xef\xbb\xbf" + text.encode()):
        record = preview(scope, coordinator, content)
        assert (record.valid_count, record.errors) == (1, [])
        assert imports.file_columns(record.content)[1] == ["Email"]
    patient_import = apply(scope, coordinator, record)
    patient = Patient.objects.get(mrn="X-1")
    assert (patient.first_name, patient.mbi, str(patient.phone)) == (
        "Zoë",
        "1EG4TE5MK73",
        "+15185550101",
    )
    assert [c.icd10_code for c in patient.conditions.all()] == ["E11.9"]
    assert patient_import.created_count == 1


# --- Bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", imports.NOT_CSV_MESSAGE),
        (b"PK\x03\x04\x14\x00\x06\x00", imports.NOT_CSV_MESSAGE),
        (
            "Patient,Born\nAda,1948-05-17\n",
            "The file has no column for: MRN, First name, Last name",
        ),
        ("MRN;First name;Last name;DOB\nE-1;Ada;Lovelace;1948-05-17\n", "separated by commas"),
        (HEADER + "\n", imports.EMPTY_MESSAGE),
        ("", "The submitted file is empty."),  # Django's FileField
        (csv_text("E-1,Ada,Lovelace,1948-05-17,F,,,E11.9,extra"), imports.MALFORMED_MESSAGE),
        ("MRN,Sex,Gender,First name,Last name,DOB\n", "Two columns mean the same thing (Sex)"),
    ],
)
def test_a_bad_file_gives_a_clear_message_and_saves_nothing(
    coordinator_client, practice, content, message
):
    response = upload(coordinator_client, content)
    assert_form_error(response, message)
    assert not PatientImport.objects.unscoped().exists()
    assert not Patient.objects.unscoped().exists()


def test_a_file_over_the_size_limit_is_refused_unread(coordinator_client, settings):
    settings.PATIENT_IMPORT_MAX_BYTES = 1024 * 1024
    response = upload(coordinator_client, csv_text(*ROWS) + "#" * 1024 * 1024)
    assert response.status_code == 400
    assert "larger than the 1 MB limit" in response.content.decode()
    assert not PatientImport.objects.unscoped().exists()


# --- Apply -----------------------------------------------------------------------------------


def test_apply_creates_candidates_with_their_conditions(coordinator_client, practice):
    record_url = upload(coordinator_client, csv_text(*ROWS))["Location"]
    response = coordinator_client.post(record_url, follow=True)
    assert "Import applied: 3 new candidates created," in response.content.decode()
    with practice_scope(practice):
        ada = Patient.objects.get(mrn="E-1")
        assert (ada.status, ada.sex, ada.mbi) == (Status.CANDIDATE, "female", "1EG4TE5MK73")
        assert [(c.icd10_code, c.position, c.is_chronic) for c in ada.conditions.all()] == [
            ("E11.9", 0, True),
            ("I10", 1, True),
        ]
        assert ada.conditions.first().description.startswith("Type 2 diabetes")
        assert Patient.objects.get(mrn="E-3").sex == "unknown"
        record = PatientImport.objects.get()
        assert (record.state, record.created_count, record.updated_count) == ("applied", 3, 0)
        assert record.applied_at is not None


def test_rows_with_errors_are_skipped_and_the_valid_ones_imported(scope, coordinator):
    record = preview(scope, coordinator, csv_text(ROWS[0], "E-9,Bad,Code,1950-01-01,F,,,ZZZ.9"))
    apply(scope, coordinator, record)
    assert list(Patient.objects.values_list("mrn", flat=True)) == ["E-1"]


def test_reimporting_the_same_file_updates_and_never_duplicates(scope, coordinator):
    apply(scope, coordinator, preview(scope, coordinator, csv_text(*ROWS)))
    again = apply(scope, coordinator, preview(scope, coordinator, csv_text(*ROWS)))
    assert (again.created_count, again.updated_count) == (0, 3)
    assert Patient.objects.count() == 3
    assert Condition.objects.count() == 3


def test_reimport_updates_demographics_adds_conditions_and_resolves_none(scope, coordinator):
    ada = PatientFactory(practice=scope, mrn="E-1", first_name="Augusta", phone="+15185550199")
    ConditionFactory(patient=ada, icd10_code="I10", status=ConditionStatus.RESOLVED)
    ConditionFactory(patient=ada, icd10_code="J44.9", description="COPD", position=1)
    row = "E-1,Ada,Lovelace,1948-05-17,F,,1EG4-TE5-MK73,E11.9; I10"  # phone left blank
    record = apply(scope, coordinator, preview(scope, coordinator, csv_text(row)))
    ada.refresh_from_db()
    assert (record.created_count, record.updated_count) == (0, 1)
    assert (ada.first_name, ada.last_name, str(ada.phone)) == ("Ada", "Lovelace", "+15185550199")
    conditions = {c.icd10_code: (c.status, c.position) for c in ada.conditions.all()}
    assert conditions == {
        "I10": ("resolved", 0),  # a clinician resolved it; an import does not undo that
        "J44.9": ("active", 1),  # not in the file: kept
        "E11.9": ("active", 2),
    }
    event = AuditEvent.objects.get(action="patient.import_update")
    assert event.patient_id == ada.pk
    assert event.changed_fields == ["conditions", "date_of_birth", "first_name", "last_name"]


def test_applying_twice_is_refused(scope, coordinator, physician):
    record = preview(scope, coordinator, csv_text(*ROWS))
    apply(scope, coordinator, record)
    stale = PatientImport.objects.get(pk=record.pk)
    stale.state = PatientImport.State.PREVIEWED  # a second tab still showing the preview
    with pytest.raises(ValidationError) as exc:
        apply(scope, physician, stale)
    assert exc.value.messages == [imports.ALREADY_APPLIED_MESSAGE]
    assert Patient.objects.count() == 3


def test_a_second_confirm_shows_a_clear_message(coordinator_client, practice):
    record_url = upload(coordinator_client, csv_text(*ROWS))["Location"]
    coordinator_client.post(record_url)
    response = coordinator_client.post(record_url, follow=True)
    assert imports.ALREADY_APPLIED_MESSAGE in response.content.decode()
    assert Patient.objects.for_practice(practice).count() == 3


def test_a_failure_while_applying_rolls_back_every_row(scope, coordinator, monkeypatch):
    record = preview(scope, coordinator, csv_text(*ROWS))

    def broken(*args, **kwargs):
        raise RuntimeError("audit insert failed")

    monkeypatch.setattr(audit, "record_rows", broken)  # the bulk audit of the rows
    with pytest.raises(RuntimeError):
        apply(scope, coordinator, record)
    record.refresh_from_db()
    assert record.state == PatientImport.State.PREVIEWED
    assert not Patient.objects.exists()
    assert not Condition.objects.exists()


def test_an_import_without_valid_rows_cannot_be_applied(scope, coordinator):
    record = preview(scope, coordinator, csv_text("E-9,,,1950-01-01,F,,,"))
    with pytest.raises(ValidationError) as exc:
        apply(scope, coordinator, record)
    assert exc.value.messages == [imports.NOTHING_TO_IMPORT_MESSAGE]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_confirms_apply_the_import_once(practice, coordinator):
    with practice_scope(practice):
        record = preview(practice, coordinator, csv_text(*ROWS))

    def confirm():
        with practice_scope(practice):
            apply(practice, coordinator, PatientImport.objects.get(pk=record.pk))

    outcomes = outcomes_at_once(confirm)
    assert sorted(outcomes) == sorted([APPLIED, imports.ALREADY_APPLIED_MESSAGE])
    assert Patient.objects.for_practice(practice).count() == 3


# --- Audit -----------------------------------------------------------------------------------


def test_preview_and_apply_are_audited_with_ids_and_field_names_only(scope, coordinator):
    record = preview(scope, coordinator, csv_text(*ROWS))
    assert AuditEvent.objects.filter(action="patientimport.preview", object_id=record.pk).exists()
    apply(scope, coordinator, record)
    events = AuditEvent.objects.filter(action="patient.import_create")
    assert sorted(e.patient_id for e in events) == sorted(
        Patient.objects.values_list("pk", flat=True)
    )
    ada = events.get(patient_id=Patient.objects.get(mrn="E-1").pk)
    assert ada.changed_fields == [
        "conditions", "date_of_birth", "first_name", "last_name", "mbi", "mrn", "phone", "sex",
    ]  # fmt: skip
    assert (ada.actor_id, ada.role) == (coordinator.user_id, "coordinator")
    assert AuditEvent.objects.filter(action="patientimport.apply", object_id=record.pk).exists()


# --- Pages and roles -------------------------------------------------------------------------


def test_clinical_roles_see_the_import_link_and_billers_do_not(coordinator_client, biller_client):
    assert "Import from EHR (CSV)" in coordinator_client.get("/patients/").content.decode()
    assert "Import from EHR (CSV)" not in biller_client.get("/patients/").content.decode()
    page = coordinator_client.get("/patients/import/")
    assert page.status_code == 200
    assert '<label for="id_file">' in page.content.decode()


def test_biller_gets_403(biller_client, scope, coordinator):
    record = preview(scope, coordinator, csv_text(*ROWS))
    assert biller_client.get("/patients/import/").status_code == 403
    assert upload(biller_client, csv_text(*ROWS)).status_code == 403
    assert biller_client.get(f"/patients/import/{record.pk}/").status_code == 403
    assert biller_client.post(f"/patients/import/{record.pk}/").status_code == 403
    assert PatientImport.objects.count() == 1
    assert not Patient.objects.exists()


def test_outsider_gets_404(outsider_client, scope, coordinator):
    record = preview(scope, coordinator, csv_text(*ROWS))
    assert str(record.pk) not in outsider_client.get("/patients/import/").content.decode()
    assert outsider_client.get(f"/patients/import/{record.pk}/").status_code == 404
    assert outsider_client.post(f"/patients/import/{record.pk}/").status_code == 404
    record.refresh_from_db()
    assert record.state == PatientImport.State.PREVIEWED


def test_get_on_the_import_page_only_shows_it(physician_client, scope, coordinator):
    # The uploader's name is shown; it may contain a patient's first name (a generated name did).
    coordinator.user.full_name = "Adam Adams"
    coordinator.user.save(update_fields=["full_name"])
    record = preview(scope, coordinator, csv_text(*ROWS, "E-9,Bad,Mbi,1950-01-01,F,,0000,"))
    page = physician_client.get(f"/patients/import/{record.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rows with errors" in html
    assert escape(MBI_MESSAGE) in html
    # The page shows counts and errors, not the file's PHI. Whole values, not a first name
    # like "Ada", which the uploader's (generated) name may contain ("Adam Brooks").
    assert "Adam Adams" in html
    for phi in ("Lovelace", "Turing", "Hopper", "1948-05-17", "1942-06-23", "555-0101"):
        assert phi not in html, phi
    assert physician_client.put(f"/patients/import/{record.pk}/").status_code == 405
    record.refresh_from_db()
    assert record.state == PatientImport.State.PREVIEWED
    assert not Patient.objects.exists()


def test_the_upload_page_lists_recent_imports_in_a_fixed_number_of_queries(
    coordinator_client, scope, coordinator, physician, django_assert_max_num_queries
):
    preview(scope, coordinator, csv_text(*ROWS))
    with django_assert_max_num_queries(12) as few:
        coordinator_client.get("/patients/import/")
    for actor in (coordinator, physician) * 3:
        preview(scope, actor, csv_text(*ROWS))
    with django_assert_max_num_queries(len(few)):
        page = coordinator_client.get("/patients/import/")
    assert page.content.decode().count("/patients/import/") >= 7
