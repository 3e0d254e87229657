"""The admin fills the practice's billing setup in a real browser: a 5-digit ZIP is refused
next to its field, ZIP+4 saves; the page at desktop and phone widths (screenshots)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from billing.models import BillingSetup
from billing.setup import rules
from ccm.models import Practice


def test_admin_fills_the_billing_setup(admin_page: Page, live_server, shot, csp_violations):
    page = admin_page
    demo = Practice.objects.get(slug="demo")
    BillingSetup.objects.for_practice(demo).delete()  # the demo's own: start from nothing
    page.goto(f"{live_server.url}/billing/fees/")
    page.get_by_role("navigation", name="Billing settings").get_by_role(
        "link", name="Billing setup"
    ).click()
    expect(page.get_by_text("Not set up yet")).to_be_visible()
    expect(page.get_by_label("Submitter name")).to_have_value("Demo Family Medicine")
    page.get_by_label("Submitter id", exact=True).fill("CM00123")
    page.get_by_label("EDI contact name").fill("Blair Biller")
    page.get_by_label("Receiver id", exact=True).fill("01112")
    page.get_by_label("Receiver name").fill("Noridian JE Part B")
    page.get_by_label("Medicare payer (Part B claims)").select_option(index=1)
    page.get_by_label("ZIP+4").fill("12345")
    page.get_by_label("Pay-to street or PO Box").fill("PO Box 4410")
    page.get_by_label("Pay-to city").fill("Springfield")
    page.get_by_label("Pay-to state").fill("NY")
    page.get_by_label("Pay-to ZIP code").fill("12345")
    page.get_by_role("button", name="Save billing setup").click()

    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    zip_field = page.get_by_label("ZIP+4")
    expect(zip_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main form")).to_contain_text(rules.ZIP4_MESSAGE)
    assert not BillingSetup.objects.for_practice(demo).exists()
    shot(page, "billing-setup-zip-refused")

    zip_field.fill("12345-0100")
    page.get_by_role("button", name="Save billing setup").click()
    expect(page.locator(".messages")).to_contain_text("Billing setup saved")
    expect(page.get_by_label("ZIP+4")).to_have_value("12345-0100")
    expect(page.get_by_text("Not set up yet")).to_have_count(0)
    setup = BillingSetup.objects.for_practice(demo).get()
    assert (setup.submitter_id, setup.postal_code, setup.pay_to_line1) == (
        "CM00123",
        "12345-0100",
        "PO Box 4410",
    )
    shot(page, "billing-setup-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
    shot(page, "billing-setup-390")

    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name="Payers").click()
    expect(page.get_by_role("cell", name="01112")).to_be_visible()
    shot(page, "billing-payers")
    assert csp_violations == []
