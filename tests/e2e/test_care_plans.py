"""A care plan in a real browser: a coordinator drafts from a template (adding a goal row
with htmx), sends it; the physician signs from the queue after re-authenticating; the
patient copy downloads as a PDF (its first page kept as a PNG artefact)."""

from __future__ import annotations

import subprocess

from playwright.sync_api import Page, expect

from careplans.models import CarePlanVersion
from ccm.models import Membership
from patients import medication_demo
from tests.e2e.conftest import ARTIFACTS, main_nav, sign_in
from tests.timelog.conftest import make_enrolled


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    sign_in(page, base, email, password)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_coordinator_drafts_physician_signs_and_the_pdf_downloads(
    page: Page, live_server, demo, shot, csp_violations
):
    base = live_server.url
    members = {
        m.user.email: m
        for m in Membership.objects.unscoped().filter(practice__slug="demo").select_related("user")
    }
    patient = make_enrolled(
        members["admin@demo.test"].practice,
        members["physician@demo.test"],
        members["coordinator@demo.test"],
        mrn="E2E-PLAN",
    )
    # The plan's medication section is the chart's list, reconciled before (issue 17).
    medication_demo.seed_patient(
        practice=patient.practice, patient=patient, performer=members["coordinator@demo.test"]
    )

    _sign_in(page, base, "coordinator@demo.test", demo)
    page.goto(f"{base}/patients/{patient.pk}/")
    page.get_by_role("link", name="Start a care plan").click()
    page.get_by_label("Diabetes").check()
    page.get_by_role("button", name="Start the draft").click()
    expect(page.locator("h1")).to_contain_text("Care plan draft")
    goals = page.locator("#rows-goals tr")
    before = goals.count()
    page.get_by_role("button", name="Add a goal").click()  # htmx appends a blank row
    expect(goals).to_have_count(before + 1)
    # The editor's own blank row goes away with one click (htmx, no reload).
    goals.nth(before - 1).get_by_role("button", name="Remove this row").click()
    expect(goals).to_have_count(before)
    last = goals.last
    last.get_by_placeholder("Goal").fill("Walk every day")
    last.get_by_placeholder("Target").fill("30 minutes")
    last.get_by_placeholder("Measure").fill("Step counter, weekly")
    page.get_by_role("textbox", name="Prognosis", exact=True).fill("Good with steady treatment.")
    expect(page.get_by_role("link", name="Open the medication list")).to_be_visible()
    page.get_by_label("Community and social services").fill("None needed now.")
    page.get_by_label("How care is coordinated").fill("Eye clinic letters reviewed monthly.")
    page.get_by_label("Caregiver involvement").fill("Daughter helps with medicines.")
    page.get_by_label("Patient preferences").fill("Calls after 10 am.")
    shot(page, "care-plan-editor")
    page.get_by_role("button", name="Save and send for signature").click()
    expect(page.locator(".messages")).to_contain_text("Sent to the physicians for signature.")
    _sign_out(page)

    _sign_in(page, base, "physician@demo.test", demo)
    main_nav(page, "Care plans")
    row = page.locator("tr", has_text="E2E-PLAN")
    row.get_by_role("link", name="Open and sign").click()
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Sign care plan").click()
    expect(page.locator(".errors")).to_contain_text("not right")
    page.get_by_label("Password").fill(demo)
    page.get_by_role("button", name="Sign care plan").click()
    expect(page.locator(".messages")).to_contain_text("signed")
    expect(page.locator("h1")).to_contain_text("Signed")
    shot(page, "care-plan-signed")
    version = CarePlanVersion.objects.unscoped().get(patient=patient)
    assert version.status == "signed"
    assert version.signed_by == members["physician@demo.test"]
    assert any(g["goal"] == "Walk every day" for g in version.content["goals"])

    with page.expect_download() as download:
        page.get_by_role("link", name="Patient copy (PDF)").click()
    pdf = ARTIFACTS / "care-plan.pdf"
    download.value.save_as(pdf)
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    text = " ".join(out.split())  # lines wrap anywhere in a PDF
    assert "Walk every day" in text
    assert "Medications last reconciled" in text
    assert "tablet" in text  # the chart's medicines as signed
    assert "24 hours a day, 7 days a week" in text
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(ARTIFACTS / "care-plan-pdf-page1"),
        ],
        check=True,
    )
    assert (ARTIFACTS / "care-plan-pdf-page1.png").exists()
    assert csp_violations == []
