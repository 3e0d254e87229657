"""Medication reconciliation in a real browser: the coordinator opens a demo patient's chart,
reconciles the list with the caregiver (changes one dose, stops one medicine, adds one),
and sees the changes in the history; the list and the reconciliation page are photographed
at desktop and phone widths (nothing may scroll sideways)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from patients.models import Medication, MedicationReconciliation, Patient, Status
from tests.e2e.conftest import ARTIFACTS


def _patient_with_three_medicines() -> tuple[Patient, list[Medication]]:
    for patient in (
        Patient.objects.unscoped()
        .filter(practice__slug="demo", status=Status.ENROLLED)
        .order_by("mrn")
    ):
        active = list(
            Medication.objects.unscoped()
            .filter(patient=patient, status="active")
            .order_by("status", "name", "created_at")
        )
        if len(active) >= 3:
            return patient, active
    raise AssertionError("the demo has no enrolled patient with three medicines")


def _fits(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"the page scrolls sideways at {width} px ({overflow} px wide)"


def test_coordinator_reconciles_a_patients_medicines(
    coordinator_page: Page, live_server, csp_violations
):
    page, base = coordinator_page, live_server.url
    patient, (changed, stopped, *_rest) = _patient_with_three_medicines()
    before = MedicationReconciliation.objects.unscoped().filter(patient=patient).count()
    old_dose = changed.dose
    page.goto(f"{base}/patients/{patient.pk}/")
    section = page.locator("#medications")
    expect(section.get_by_role("heading", name="Medications")).to_be_visible()
    expect(section).to_contain_text(changed.name)
    section.get_by_role("link", name="Reconcile medications").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reconcile medications")

    first = page.locator("fieldset.med-review", has_text=changed.name)
    first.get_by_label("Change").check()
    first.get_by_label("Dose").fill("2 tablets")
    page.locator("fieldset.med-review", has_text=stopped.name).get_by_label("Stop").check()
    new = page.locator("fieldset.med-review", has_text="New medicine 1")
    new.get_by_label("Name").fill("Amlodipine 5 mg tablet")
    new.get_by_label("Dose").fill("1 tablet")
    new.get_by_label("RxNorm code").fill("197361")
    new.get_by_label("Source").select_option("discharge")
    page.get_by_label("Reconciled with").select_option("caregiver")
    page.get_by_label("Sources reviewed").fill("Pill bottles, discharge summary")
    page.get_by_label("Discrepancies found").fill("Amlodipine started at discharge, not listed.")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"medications-reconcile-{width}.png"), full_page=True)
        _fits(page, width)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Record reconciliation").click()
    expect(page.locator(".messages")).to_contain_text("Reconciliation recorded")
    section = page.locator("#medications")
    history = section.locator(".meds-history li").first
    expect(history).to_contain_text("with caregiver")
    expect(history).to_contain_text(f"{changed.name}: dose {old_dose} → 2 tablets")
    expect(history).to_contain_text(f"Stopped {stopped.name}")
    expect(history).to_contain_text("Added Amlodipine 5 mg tablet")
    expect(history).to_contain_text("Amlodipine started at discharge, not listed.")
    expect(section).to_contain_text("Last reconciled")

    assert MedicationReconciliation.objects.unscoped().filter(patient=patient).count() == before + 1
    stopped.refresh_from_db()
    changed.refresh_from_db()
    assert stopped.status == "stopped"
    assert changed.dose == "2 tablets"

    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(ARTIFACTS / f"medications-section-{width}.png"))
        box = section.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width + 1  # the card fits the screen
    assert csp_violations == []
