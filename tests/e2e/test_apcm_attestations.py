"""The admin records the practice's APCM attestation (every service element ticked) and the
physician's focal-point attestation in a real browser, and sees the physician may bill APCM
this month; an element left unticked is explained and nothing is saved. At 1280 and 390 px
(nothing scrolls sideways on a phone)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from billing.models import ApcmElement, ApcmPracticeAttestation, ApcmPractitionerAttestation
from billing.setup import apcm
from ccm.models import Membership, Practice
from ccm.tenancy import practice_scope

OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def test_admin_records_both_apcm_attestations(admin_page: Page, live_server, shot, csp_violations):
    page = admin_page
    demo = Practice.objects.get(slug="demo")
    physician = Membership.objects.unscoped().get(practice=demo, user__email="physician@demo.test")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/billing/setup/")
    page.get_by_role("navigation", name="Billing settings").get_by_role(
        "link", name="APCM attestations"
    ).click()
    expect(page.get_by_role("heading", name="APCM attestations", level=1)).to_be_visible()
    gate = page.get_by_role("region", name="Who may bill APCM")
    expect(gate).to_contain_text("Blocked (R39)")

    ours = page.locator("form", has=page.get_by_role("button", name="Record practice attestation"))
    for _value, label in ApcmElement.choices[:-1]:
        ours.get_by_label(label).check()
    ours.get_by_role("button", name="Record practice attestation").click()
    expect(page.get_by_role("alert")).to_contain_text("not recorded")
    expect(page.locator("main")).to_contain_text("Affirm every APCM service element")
    assert not ApcmPracticeAttestation.objects.unscoped().filter(practice=demo).exists()

    ours = page.locator("form", has=page.get_by_role("button", name="Record practice attestation"))
    for _value, label in ApcmElement.choices:
        ours.get_by_label(label).check()
    ours.get_by_role("button", name="Record practice attestation").click()
    expect(page.locator(".messages")).to_contain_text("practice's APCM attestation is recorded")

    theirs = page.locator(
        "form", has=page.get_by_role("button", name="Record practitioner attestation")
    )
    theirs.get_by_label("Billing practitioner").select_option(str(physician.pk))
    theirs.get_by_role("button", name="Record practitioner attestation").click()
    expect(page.locator(".messages")).to_contain_text("practitioner's APCM attestation")
    expect(page.get_by_role("region", name="Who may bill APCM")).to_contain_text("Attested")
    expect(page.get_by_role("button", name="Withdraw practice attestation")).to_be_visible()
    shot(page, "apcm-attestations-1280")
    assert page.evaluate(OVERFLOW) <= 0

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_role("region", name="Who may bill APCM")).to_contain_text("Attested")
    shot(page, "apcm-attestations-390")
    assert page.evaluate(OVERFLOW) <= 0

    with practice_scope(demo):
        assert apcm.apcm_attested(demo, physician.pk, demo.this_month())
    assert ApcmPractitionerAttestation.objects.unscoped().filter(practice=demo).count() == 1
    assert csp_violations == []
