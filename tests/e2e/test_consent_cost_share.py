"""The consent page shows the coordinator the patient's estimated CCM cost share, at desktop and
phone widths, with nothing wider than the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from ccm.models import Practice
from patients.models import Coverage, Patient, Status
from tests.factories import CoverageFactory, PayerFactory


def _candidate(secondary: str | None) -> Patient:
    practice = Practice.objects.get(slug="demo")
    patient = (
        Patient.objects.for_practice(practice)
        .filter(status=Status.CANDIDATE)
        .order_by("mrn")
        .first()
    )
    assert patient is not None
    Coverage.objects.for_practice(practice).filter(patient=patient, priority="secondary").delete()
    if secondary:
        payer = PayerFactory(practice=practice, name="Golden Years Medigap", kind="medigap")
        CoverageFactory(patient=patient, priority="secondary", kind=secondary, payer=payer)
    return patient


@pytest.mark.parametrize(
    ("width", "secondary", "figure"),
    [(1280, None, "a month"), (1280, "medigap", "$0.00 a month"), (390, "medigap", "$0.00")],
)
def test_the_consent_page_shows_the_cost_share(
    coordinator_page: Page, live_server, shot, csp_violations, width, secondary, figure
):
    page = coordinator_page
    page.set_viewport_size({"width": width, "height": 900})
    patient = _candidate(secondary)
    page.goto(f"{live_server.url}/patients/{patient.pk}/consent/")
    box = page.locator("#cost-share")
    expect(box).to_be_visible()
    expect(box).to_contain_text(figure)
    expect(box).to_contain_text("deductible")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"consent-cost-share-{secondary or 'part-b'}-{width}")
    assert csp_violations == []
