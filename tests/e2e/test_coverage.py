"""Coverage on the chart in a real browser: the coordinator adds a Medigap secondary (a
missing member id is refused first, nothing saved), then sees it listed; the section is
photographed at desktop and phone widths."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from patients.models import Coverage, Patient
from tests.e2e.conftest import ARTIFACTS


def _part_b_only(practice_slug: str = "demo") -> Patient:
    """A demo patient with Part B and no secondary coverage (the demo's mix has many)."""
    for patient in Patient.objects.unscoped().filter(practice__slug=practice_slug).order_by("mrn"):
        kinds = set(
            Coverage.objects.unscoped().filter(patient=patient).values_list("kind", flat=True)
        )
        if kinds == {"part_b"}:
            return patient
    raise AssertionError("the demo has no Part B-only patient")


def test_coordinator_adds_a_medigap_secondary(coordinator_page: Page, live_server, csp_violations):
    page, base = coordinator_page, live_server.url
    patient = _part_b_only()
    page.goto(f"{base}/patients/{patient.pk}/")
    section = page.locator("#coverage")
    expect(section.get_by_role("heading", name="Coverage")).to_be_visible()
    expect(section).to_contain_text("Medicare Part B")
    section.get_by_role("link", name="Add coverage").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Add coverage for")
    page.get_by_label("Coverage:", exact=True).select_option("medigap")
    page.get_by_label("Payer:", exact=True).select_option(label="Mutual of Omaha Medigap (71412)")
    page.get_by_label("Effective from").fill("2026-01-01")
    page.get_by_role("button", name="Add coverage").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.locator("form.form")).to_contain_text("Enter the member id")
    assert not Coverage.objects.unscoped().filter(patient=patient, kind="medigap").exists()
    page.get_by_label("Member id").fill("MG-55501234")
    page.get_by_role("button", name="Add coverage").click()
    expect(page.locator(".messages")).to_contain_text("Coverage added.")
    section = page.locator("#coverage")
    expect(section).to_contain_text("Medigap (Medicare supplement)")
    expect(section).to_contain_text("Mutual of Omaha Medigap")
    expect(section).to_contain_text("1234")
    expect(section).not_to_contain_text("MG-55501234")
    assert Coverage.objects.unscoped().get(patient=patient, kind="medigap").priority == "secondary"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(ARTIFACTS / f"coverage-section-{width}.png"))
        box = section.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width + 1  # the card fits the screen
    assert csp_violations == []
