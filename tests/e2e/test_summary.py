"""The after-contact summary in a real browser: for a Spanish-speaking patient with a reached
call, the coordinator writes the summary, is refused for the son (no permission to share),
shares it with the permitted daughter, downloads the PDF and it is in Spanish; the chart lists
it. Form, chart section and PDF are photographed (desktop and phone widths)."""

from __future__ import annotations

import datetime as dt
import subprocess

from django.utils import timezone
from playwright.sync_api import Page, expect

from ccm.models import Membership
from patients.models import CareContact, Patient, SharingPermission, Status
from tests.e2e.conftest import ARTIFACTS
from timelog.models import ContactAttempt, ContactSummary


def _spanish_patient_with_a_reached_call() -> tuple[Patient, CareContact, CareContact]:
    """A demo patient without summaries, now Spanish-speaking, with a daughter permitted to
    receive summaries, a son who is not, and a reached call to the daughter this morning."""
    summarised = ContactSummary.objects.unscoped().values("patient_id")
    patient = (
        Patient.objects.unscoped()
        .filter(practice__slug="demo", status=Status.ENROLLED)
        .exclude(pk__in=summarised)
        .order_by("mrn")
        .first()
    )
    assert patient is not None
    patient.preferred_language = "Español"
    patient.save(update_fields=["preferred_language"])
    coordinator = Membership.objects.unscoped().get(user__email="coordinator@demo.test")
    rows = {"practice": patient.practice, "patient": patient}
    daughter = CareContact.objects.unscoped().create(
        **rows, category="caregiver", name="Marisol Ortega", relationship="Daughter"
    )
    son = CareContact.objects.unscoped().create(
        **rows, category="caregiver", name="Tomás Ortega", relationship="Son"
    )
    today = patient.practice.today()
    SharingPermission.objects.unscoped().create(
        **rows,
        contact=daughter,
        scopes=["summaries", "care_plan"],
        method="verbal",
        given_on=today - dt.timedelta(days=30),
        recorded_by=coordinator,
    )
    ContactAttempt.objects.unscoped().create(
        **rows,
        occurred_at=timezone.now() - dt.timedelta(minutes=30),
        month=today.replace(day=1),
        party="caregiver",
        contact=daughter,
        outcome="reached",
        note="Talked with the daughter about the new insulin dose.",
        recorded_by=coordinator,
    )
    return patient, daughter, son


def _pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


def test_coordinator_gives_a_spanish_summary_to_the_permitted_daughter(
    coordinator_page: Page, live_server, csp_violations
):
    page, base = coordinator_page, live_server.url
    patient, daughter, _son = _spanish_patient_with_a_reached_call()
    page.goto(f"{base}/patients/{patient.pk}/")
    section = page.locator("#summaries")
    expect(section.get_by_role("heading", name="After-contact summaries")).to_be_visible()
    expect(section).to_contain_text("No summary given yet.")
    section.get_by_role("link", name="Write a summary of the contact").first.click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("After-contact summary for")
    expect(page.locator("#summary-language")).to_contain_text("prints in Spanish")
    page.get_by_label("What we talked about").fill(
        "La nueva dosis de insulina y las lecturas de azúcar de esta semana."
    )
    page.get_by_label("What to do now").fill(
        "Ponga 12 unidades de insulina antes de la cena.\nAnote el azúcar cada mañana."
    )
    page.get_by_label("What to watch for").fill("Mareo o temblores: coma algo dulce y llámenos.")
    page.get_by_label("Given to").select_option(label="Tomás Ortega (Son): not permitted")
    page.get_by_label("How it was shared").select_option("mail")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("button", name="Record as shared").click()
    expect(page.locator("form.form")).to_contain_text("has not given permission")
    assert not ContactSummary.objects.unscoped().filter(patient=patient).exists()

    page.get_by_label("Given to").select_option(label="Marisol Ortega (Daughter): permitted")
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"summary-form-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Record as shared").click()
    expect(page.locator(".messages")).to_contain_text("Summary recorded as shared.")
    summary = ContactSummary.objects.unscoped().get(patient=patient)
    assert summary.shared_with_id == daughter.pk
    assert summary.language == "es"

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF (Spanish)").click()
    pdf = ARTIFACTS / "summary.pdf"
    download.value.save_as(pdf)
    text = _pdf_text(pdf)
    assert "Resumen de nuestra conversación" in text
    assert "Qué hacer ahora" in text
    assert "entregado a Marisol Ortega" in text
    assert "(555) 010-0199" in text  # the demo practice's 24/7 number
    assert "Demo Family Medicine" in text
    assert patient.last_name in text
    assert "What to do now" not in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(ARTIFACTS / "summary-pdf")],
        check=True,
    )

    page.get_by_role("link", name="Back to the chart").click()
    section = page.locator("#summaries")
    expect(section).to_contain_text("Marisol Ortega")
    expect(section).to_contain_text("Mailed")
    expect(section).to_contain_text("Spanish")
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(ARTIFACTS / f"summary-chart-{width}.png"))
        box = section.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width + 1  # the card fits the screen
    assert csp_violations == []
