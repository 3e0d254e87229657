"""The coordinator's enrollment path in a real browser: import candidates from an EHR CSV,
open one, record verbal consent with the script, enroll."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from playwright.sync_api import Page, expect

from ccm.models import Membership
from patients.models import Consent, Patient
from tests.e2e.conftest import main_nav

CSV = """MRN,First Name,Last Name,DOB,Sex,Phone,MBI,ICD10
E2E-001,Rosalind,Franklin,1940-07-25,F,518-555-0101,1EG4-TE5-MK73,E11.9;I10
E2E-002,Alan,Turing,06/23/1942,M,518-555-0102,2AC3-DE4-FG56,I50.22;J44.9
E2E-003,Bad,Code,1950-01-01,F,,,NOT.A.CODE
"""


def test_coordinator_imports_consents_and_enrolls(
    coordinator_page: Page, live_server, shot, csp_violations, tmp_path
):
    page, base = coordinator_page, live_server.url
    main_nav(page, "Patients")
    page.get_by_role("link", name="Import from EHR (CSV)").click()
    csv_file = tmp_path / "ehr-export.csv"
    csv_file.write_text(CSV)
    page.locator("input[type=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name=re.compile("Preview", re.I)).click()
    expect(page.locator("main")).to_contain_text("2 valid")
    expect(page.locator("main")).to_contain_text("Row 3")
    shot(page, "patients-import-preview")
    assert not Patient.objects.unscoped().filter(mrn__startswith="E2E-").exists()
    page.get_by_role("button", name=re.compile(r"Import 2", re.I)).click()
    expect(page.locator(".messages, main")).to_contain_text(re.compile("2 .*(created|new)", re.I))

    page.goto(f"{base}/patients/?q=E2E-001")
    page.get_by_role("link", name="Franklin, Rosalind").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rosalind Franklin")
    # The import brings demographics and conditions; the chart asks for the initiating visit.
    expect(page.locator("main")).to_contain_text("R8: no initiating visit recorded")
    page.get_by_role("link", name="Edit details").click()
    page.get_by_label("Billing practitioner").select_option(label="Dr. Pat Physician")
    page.get_by_label("Initiating visit date").fill(
        (timezone.localdate() - dt.timedelta(days=20)).isoformat()
    )
    page.get_by_label("Initiating visit code").fill("99214")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("Eligible for CCM.")

    page.get_by_role("link", name="Record consent").click()
    expect(page.locator(".script")).to_contain_text("Part B coinsurance")
    shot(page, "patients-consent-script")
    page.get_by_label("Method").select_option("verbal")
    for label in ("what it involves", "cost sharing", "only one practitioner", "stop at any time"):
        page.get_by_label(re.compile(label)).check()
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator(".messages")).to_contain_text("Consent recorded.")

    page.get_by_role("button", name="Enroll in CCM").click()
    expect(page.locator(".messages")).to_contain_text("Enrolled in CCM.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Enrolled")
    shot(page, "patients-chart-enrolled")
    patient = Patient.objects.unscoped().get(mrn="E2E-001")
    assert patient.status == "enrolled"
    coordinator = Membership.objects.unscoped().get(user__email="coordinator@demo.test")
    assert Consent.objects.unscoped().get(patient=patient).obtained_by_id == coordinator.pk
    assert csp_violations == []
