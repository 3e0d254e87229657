"""The biller's other-services path in a real browser: from a chart, record an APCM service
billed elsewhere; then import a practice-management CSV (preview, then apply)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.models import OtherService
from patients.models import Patient
from tests.e2e.conftest import sign_in_with_totp

OUTSIDE_NPI = "1234567893"
MEMBER_NPI = "1679576722"  # Dr. Pat Physician


@pytest.fixture
def biller_page(page: Page, live_server, demo) -> Page:
    """The demo biller, with TOTP enrolled, signed in."""
    sign_in_with_totp(page, live_server.url, "biller@demo.test", demo)
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/(home|worklist)/"))
    return page


def test_biller_records_a_service_and_imports_a_csv(
    biller_page: Page, live_server, shot, csp_violations, tmp_path
):
    page, base = biller_page, live_server.url
    patient = Patient.objects.unscoped().get(practice__slug="demo", mrn="DEMO-00001")
    # The practice's today, not UTC's: from 00:00 UTC to midnight in New York they differ,
    # and a date of service after the practice's today is refused.
    today = timezone.localdate(timezone=ZoneInfo(patient.practice.time_zone)).isoformat()
    page.goto(f"{base}/patients/{patient.pk}/")
    page.locator("#billing-facts").get_by_role("link", name="Other services").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Other services")
    page.get_by_label("Code").select_option("G0557")
    page.get_by_label("Date of service").fill(today)
    page.get_by_label("Outside practitioner's NPI").fill("1234567890")  # wrong check digit
    page.get_by_role("button", name="Add service").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.locator("form.form")).to_contain_text("check digit is wrong")
    assert not OtherService.objects.unscoped().exists()
    page.get_by_label("Outside practitioner's NPI").fill(OUTSIDE_NPI)
    page.get_by_label("Note").fill("APCM billed by the patient's new clinic")
    page.get_by_role("button", name="Add service").click()
    expect(page.locator(".messages")).to_contain_text("G0557 recorded.")
    expect(page.locator("table")).to_contain_text(f"Outside, NPI {OUTSIDE_NPI}")
    shot(page, "other-services-list")
    assert OtherService.objects.unscoped().filter(patient=patient, code="G0557").exists()

    page.get_by_role("link", name="Import from CSV").click()
    csv_file = tmp_path / "pm-export.csv"
    csv_file.write_text(
        "mrn,code,service_date,practitioner_npi,note\n"
        f"DEMO-00002,99495,{today},{MEMBER_NPI},TCM after discharge\n"
        f"DEMO-00003,G0181,{today},{OUTSIDE_NPI},\n"
        f"NO-SUCH-MRN,G0556,{today},{OUTSIDE_NPI},\n"
    )
    page.locator("input[type=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview import").click()
    expect(page.locator("main")).to_contain_text("2 valid, 1 with errors")
    expect(page.locator("main")).to_contain_text("Row 3")
    expect(page.locator("main")).not_to_contain_text("NO-SUCH-MRN")
    shot(page, "other-services-import-preview")
    assert OtherService.objects.unscoped().count() == 1
    page.get_by_role("button", name="Import 2 valid rows").click()
    expect(page.get_by_role("status")).to_contain_text("Import applied: 2 services recorded")
    shot(page, "other-services-import-applied")
    assert OtherService.objects.unscoped().count() == 3
    tcm = OtherService.objects.unscoped().get(code="99495")
    assert tcm.practitioner.user.email == "physician@demo.test"
    assert csp_violations == []
