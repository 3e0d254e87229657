"""CSV import of other services from a practice-management export: preview (row errors,
nothing recorded), apply once in one transaction, duplicates skipped, admins and billers
only, errors never echo a value."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.facts import imports
from billing.facts import services as facts_services
from billing.models import OtherService, OtherServiceImport
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from ccm.validators import NPI_CHECK_MESSAGE
from patients import engine_inputs
from tests.billing.test_other_services import (
    MEMBER_NPI,
    NOW,
    OUTSIDE_NPI,
    billable_patient,
    progress_row,
    verdict,
)
from tests.factories import PatientFactory
from tests.helpers import APPLIED, frozen_clock, outcomes_at_once
from timelog.services import month_lock

HEADER = "mrn,code,service_date,practitioner_npi,note"
ROWS = [
    f"T-1,G0556,2026-10-12,{OUTSIDE_NPI},APCM from the PM report",
    f"T-1,99495,10/02/2026,{MEMBER_NPI},",
    f"T-2,g0181,2026-09-30,{OUTSIDE_NPI},",
]


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


frozen = frozen_clock(NOW)


@pytest.fixture
def patients(practice, physician, coordinator):
    return [
        billable_patient(practice, physician, coordinator, mrn=mrn, day=day)
        for mrn, day in (("T-1", 5), ("T-2", 6))
    ]


def upload(client, text: str | bytes, name: str = "services.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/billing/other-services/import/", {"file": SimpleUploadedFile(name, data, "text/csv")}
    )


def preview(practice, actor, text):
    with practice_scope(practice):
        return imports.import_preview(practice=practice, actor=actor, content=text)


def apply(practice, actor, record):
    with practice_scope(practice):
        return imports.import_apply(practice=practice, actor=actor, service_import=record)


def test_preview_records_nothing_and_apply_records_each_service_once(
    biller_client, practice, patients, physician, frozen
):
    response = upload(biller_client, csv_text(*ROWS))
    record = OtherServiceImport.objects.for_practice(practice).get()
    assert response.status_code == 302
    assert response["Location"] == f"/billing/other-services/import/{record.pk}/"
    assert not OtherService.objects.unscoped().exists()
    assert (record.state, record.row_count, record.valid_count, record.created_count) == (
        "previewed",
        3,
        3,
        3,
    )
    assert verdict(practice, patients[0]).billable
    shown = biller_client.get(response["Location"]).content.decode()
    assert "Import 3 valid rows" in shown
    assert biller_client.post(response["Location"]).status_code == 302
    services = OtherService.objects.for_practice(practice)
    assert sorted(services.values_list("code", flat=True)) == ["99495", "G0181", "G0556"]
    tcm = services.get(code="99495")
    assert (tcm.practitioner_id, tcm.outside_npi) == (physician.pk, "")  # matched by NPI
    apcm = services.get(code="G0556")
    assert (apcm.practitioner_id, apcm.outside_npi, apcm.note) == (
        None,
        OUTSIDE_NPI,
        "APCM from the PM report",
    )
    assert "R30" in verdict(practice, patients[0]).blocked_by
    assert progress_row(practice, patients[0]).computed_at == NOW  # refreshed on apply
    record.refresh_from_db()
    assert (record.state, record.created_count) == ("applied", 3)
    # Applying twice does nothing.
    again = biller_client.post(response["Location"], follow=True)
    assert imports.ALREADY_APPLIED_MESSAGE in again.content.decode()
    assert OtherService.objects.unscoped().count() == 3


@pytest.mark.parametrize(
    ("row", "field", "message", "value"),
    [
        (f"X-404,G0556,2026-10-12,{OUTSIDE_NPI},", "mrn", imports.UNKNOWN_MRN_MESSAGE, "X-404"),
        (f"T-1,99213,2026-10-12,{OUTSIDE_NPI},", "code", facts_services.CODE_MESSAGE, "99213"),
        (f"T-1,G0556,12/40/2026,{OUTSIDE_NPI},", "service_date", imports.DATE_MESSAGE, "12/40"),
        (
            f"T-1,G0556,2026-10-21,{OUTSIDE_NPI},",
            "service_date",
            facts_services.FUTURE_SERVICE_MESSAGE,
            "",
        ),
        ("T-1,G0556,2026-10-12,1234567890,", "practitioner_npi", NPI_CHECK_MESSAGE, "1234567890"),
        ("T-1,G0556,2026-10-12,,", "practitioner_npi", imports.REQUIRED_MESSAGE, ""),
        (f"T-1,G0556,2026-10-12,{OUTSIDE_NPI},{'x' * 301}", "note", imports.NOTE_MESSAGE, "xxx"),
    ],
)
def test_row_errors_name_the_row_and_field_and_never_echo_the_value(
    practice, biller, patients, frozen, row, field, message, value
):
    record = preview(practice, biller, csv_text(ROWS[0], row))
    assert record.errors == [{"row": 2, "field": field, "message": message}]
    assert (record.row_count, record.valid_count) == (2, 1)
    if value:
        assert value not in str(record.errors)
    assert not OtherService.objects.unscoped().exists()


def test_another_practices_mrn_is_unknown(practice, other_practice, biller, patients, frozen):
    PatientFactory(practice=other_practice, mrn="ELSE-1")
    record = preview(practice, biller, csv_text(f"ELSE-1,G0556,2026-10-12,{OUTSIDE_NPI},"))
    assert record.errors == [{"row": 1, "field": "mrn", "message": imports.UNKNOWN_MRN_MESSAGE}]


def test_a_row_in_a_closed_month_is_an_error(practice, biller, patients, frozen):
    month_lock(practice=practice, month=NOW.date().replace(month=9, day=1))
    record = preview(practice, biller, csv_text(*ROWS))
    assert record.errors == [
        {"row": 3, "field": "service_date", "message": imports.LOCKED_ROW_MESSAGE}
    ]
    applied = apply(practice, biller, record)
    assert applied.created_count == 2
    assert not OtherService.objects.unscoped().filter(code="G0181").exists()


def test_a_month_closed_after_the_preview_is_skipped_on_apply(practice, biller, patients, frozen):
    record = preview(practice, biller, csv_text(*ROWS))
    assert record.created_count == 3
    month_lock(practice=practice, month=NOW.date().replace(month=9, day=1))
    applied = apply(practice, biller, record)
    assert (applied.valid_count, applied.created_count) == (2, 2)
    assert applied.errors[0]["row"] == 3


def test_duplicates_of_recorded_services_and_of_earlier_rows_are_skipped(
    practice, biller, patients, frozen
):
    apply(practice, biller, preview(practice, biller, csv_text(ROWS[0])))
    repeat = f"T-1,G0556,10/12/2026,{OUTSIDE_NPI},the same service in another date format"
    record = preview(practice, biller, csv_text(*ROWS, ROWS[1], repeat))
    assert (record.valid_count, record.created_count) == (5, 2)
    applied = apply(practice, biller, record)
    assert applied.created_count == 2
    assert OtherService.objects.unscoped().count() == 3


def test_reimporting_the_same_file_adds_nothing(practice, biller, patients, frozen):
    apply(practice, biller, preview(practice, biller, csv_text(*ROWS)))
    second = preview(practice, biller, csv_text(*ROWS))
    assert second.created_count == 0
    assert apply(practice, biller, second).created_count == 0
    assert OtherService.objects.unscoped().count() == 3


def test_applying_twice_is_refused_and_changes_nothing(practice, admin, patients, frozen):
    record = preview(practice, admin, csv_text(*ROWS))
    apply(practice, admin, record)
    stale = OtherServiceImport.objects.unscoped().get(pk=record.pk)
    stale.state = OtherServiceImport.State.PREVIEWED  # a second tab still showing the preview
    with pytest.raises(ValidationError) as caught:
        apply(practice, admin, stale)
    assert caught.value.messages == [imports.ALREADY_APPLIED_MESSAGE]
    assert OtherService.objects.unscoped().count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_confirms_apply_the_import_once(practice, biller, patients):
    record = preview(practice, biller, csv_text(*ROWS))

    def confirm():
        apply(practice, biller, OtherServiceImport.objects.unscoped().get(pk=record.pk))

    outcomes = outcomes_at_once(confirm)
    assert sorted(outcomes) == sorted([APPLIED, imports.ALREADY_APPLIED_MESSAGE])
    assert OtherService.objects.unscoped().count() == 3


def test_a_failure_while_applying_rolls_back_everything(
    practice, biller, patients, frozen, monkeypatch
):
    record = preview(practice, biller, csv_text(*ROWS))

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine_inputs, "_refresher", boom)
    with pytest.raises(RuntimeError):
        apply(practice, biller, record)
    assert not OtherService.objects.unscoped().exists()
    record.refresh_from_db()
    assert record.state == OtherServiceImport.State.PREVIEWED


def test_an_import_without_valid_rows_cannot_be_applied(practice, biller, patients, frozen):
    record = preview(practice, biller, csv_text("T-1,99213,2026-10-12,1234567890,"))
    assert record.valid_count == 0
    with pytest.raises(ValidationError) as caught:
        apply(practice, biller, record)
    assert caught.value.messages == [imports.NOTHING_TO_IMPORT_MESSAGE]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.7\n\x00binary", imports.NOT_CSV_MESSAGE),
        ("mrn,code\nT-1,G0556\n", imports.MISSING_COLUMNS_MESSAGE.split(":")[0]),
        (HEADER + "\n", imports.EMPTY_MESSAGE),
        (csv_text("T-1,G0556,2026-10-12,1,2,3,4"), imports.MALFORMED_MESSAGE),
    ],
)
def test_a_bad_file_gives_a_clear_message_and_saves_nothing(
    biller_client, practice, patients, frozen, content, message
):
    response = upload(biller_client, content)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not OtherServiceImport.objects.unscoped().exists()


def test_header_variants_are_understood(practice, biller, patients, frozen):
    header = "Patient MRN,CPT/HCPCS,Date of Service,Rendering NPI,Comments,Payer"
    record = preview(
        practice, biller, csv_text(f"T-1,G0557,2026-10-03,{OUTSIDE_NPI},,MCR", header=header)
    )
    assert (record.valid_count, record.errors) == (1, [])


def test_preview_apply_and_each_service_are_audited_with_ids_only(
    practice, biller, patients, frozen
):
    record = apply(practice, biller, preview(practice, biller, csv_text(*ROWS)))
    events = AuditEvent.objects.for_practice(practice)
    assert events.filter(action="otherserviceimport.preview", object_id=str(record.pk)).exists()
    assert events.filter(action="otherserviceimport.apply", object_id=str(record.pk)).exists()
    created = events.filter(action="otherservice.import_create")
    assert sorted(created.values_list("patient_id", flat=True)) == sorted(
        [patients[0].pk, patients[0].pk, patients[1].pk]
    )
    for event in events:
        assert "T-1" not in f"{event.object_id}{event.changed_fields}"


@pytest.mark.parametrize("who", ["physician_client", "coordinator_client"])
def test_only_admins_and_billers_import(request, who, practice, biller, patients, frozen):
    client = request.getfixturevalue(who)
    record = preview(practice, biller, csv_text(*ROWS))
    assert client.get("/billing/other-services/import/").status_code == 403
    assert upload(client, csv_text(*ROWS)).status_code == 403
    assert client.post(f"/billing/other-services/import/{record.pk}/").status_code == 403
    assert OtherServiceImport.objects.unscoped().count() == 1
    assert not OtherService.objects.unscoped().exists()


def test_the_service_refuses_other_roles(practice, physician, patients, frozen):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        preview(practice, physician, csv_text(*ROWS))
    assert not OtherServiceImport.objects.unscoped().exists()


def test_outsider_gets_404(outsider_client, practice, biller, patients, frozen):
    record = preview(practice, biller, csv_text(*ROWS))
    url = f"/billing/other-services/import/{record.pk}/"
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url).status_code == 404
    record.refresh_from_db()
    assert record.state == OtherServiceImport.State.PREVIEWED
    assert not OtherService.objects.unscoped().exists()


def test_get_on_the_import_page_only_shows_it(admin_client, practice, biller, patients, frozen):
    record = preview(practice, biller, csv_text(*ROWS))
    for _ in range(2):
        assert admin_client.get(f"/billing/other-services/import/{record.pk}/").status_code == 200
    record.refresh_from_db()
    assert record.state == OtherServiceImport.State.PREVIEWED
    assert not OtherService.objects.unscoped().exists()


def test_the_upload_page_lists_recent_imports_in_a_fixed_number_of_queries(
    biller_client, practice, biller, admin, patients, frozen, django_assert_max_num_queries
):
    for n in range(8):
        preview(practice, biller if n % 2 else admin, csv_text(ROWS[n % 3]))
    biller_client.get("/billing/other-services/import/")
    with django_assert_max_num_queries(10):
        response = biller_client.get("/billing/other-services/import/")
    assert response.content.decode().count("/billing/other-services/import/") >= 8
