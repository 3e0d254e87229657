"""Care transitions in a real browser: the coordinator records a hospital discharge from the
chart (a fake PDF is refused first, nothing saved), with its PDF summary; the timeline shows
it with the follow-up call and the reconciliation task, the summary opens, and the
reconciliation task's page leads to the reconciliation. Photographed at desktop and phone
widths."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from careplans.models import CareTransition
from careplans.transition_demo import demo_summary_pdf
from patients.models import Patient
from tests.e2e.conftest import ARTIFACTS
from timelog.models import Task


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    # Before the demo is seeded (autouse first): its summary PDF and ours go to a temp folder.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/no-public-url/"},
        },
    }


def _patient_without_transitions() -> Patient:
    with_transitions = CareTransition.objects.unscoped().values("patient_id")
    return (
        Patient.objects.unscoped()
        .filter(practice__slug="demo", status="enrolled")
        .exclude(pk__in=with_transitions)
        .order_by("mrn")
        .first()
    )


def _fill(form, day: dt.date) -> None:
    form.get_by_label("Kind").select_option("hospital_discharge")
    form.get_by_label("Date:", exact=True).fill(day.isoformat())
    form.get_by_label("Admitted on").fill((day - dt.timedelta(days=4)).isoformat())
    form.get_by_label("Hospital or facility").fill("Lakeside Regional Hospital")
    form.get_by_label("Diagnoses").fill("CHF exacerbation")
    form.get_by_label("Notes").fill("Furosemide increased to 40 mg; weigh daily.")


def test_coordinator_records_a_discharge_with_its_summary(
    coordinator_page: Page, live_server, csp_violations
):
    page, base = coordinator_page, live_server.url
    patient = _patient_without_transitions()
    day = patient.practice.today() - dt.timedelta(days=1)
    page.goto(f"{base}/patients/{patient.pk}/")
    section = page.locator("#transitions")
    expect(section.get_by_role("heading", name="Care transitions")).to_be_visible()
    section.get_by_text("Record a transition").click()
    form = section.locator("form")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        form.screenshot(path=str(ARTIFACTS / f"transitions-form-{width}.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.set_viewport_size({"width": 1280, "height": 900})
    _fill(form, day)
    fake = {"name": "summary.pdf", "mimeType": "application/pdf", "buffer": b"<html>hi</html>"}
    form.get_by_label("Discharge summary or visit note").set_input_files(fake)
    form.get_by_role("button", name="Record transition").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.locator("form.form")).to_contain_text("must be a PDF, PNG or JPEG")
    assert not CareTransition.objects.unscoped().filter(patient=patient).exists()

    form = page.locator("form.form")
    _fill(form, day)
    summary = {"name": "summary.pdf", "mimeType": "application/pdf", "buffer": demo_summary_pdf()}
    form.get_by_label("Discharge summary or visit note").set_input_files(summary)
    form.get_by_role("button", name="Record transition").click()
    expect(page.locator(".messages")).to_contain_text("follow-up call is due within 2 business")
    section = page.locator("#transitions")
    expect(section).to_contain_text("Hospital discharge, Lakeside Regional Hospital")
    expect(section).to_contain_text("CHF exacerbation")
    expect(section.get_by_role("link", name="Follow-up call after discharge")).to_be_visible()
    expect(section.get_by_role("link", name="Reconcile medicines after discharge")).to_be_visible()
    transition = CareTransition.objects.unscoped().get(patient=patient)
    assert Task.objects.unscoped().filter(transition=transition).count() == 2

    document = section.get_by_role("link", name="Discharge summary (PDF)")
    response = page.request.get(base + document.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"

    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(ARTIFACTS / f"transitions-section-{width}.png"))
        box = section.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width + 1  # the card fits the screen
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width + 1, f"the chart scrolls sideways at {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})

    section.get_by_role("link", name="Reconcile medicines after discharge").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reconcile medicines")
    expect(page.get_by_role("link", name="Reconcile the medicines")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "transitions-reconcile-task-1280.png"), full_page=True)
    assert csp_violations == []
