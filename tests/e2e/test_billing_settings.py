"""The admin changes the practice's 99490 amount and a POLICY switch in a real browser and
sees the saved values; a bad amount is explained next to its field."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from billing.inputs import loading
from ccm.models import Practice

R23 = "R23: complex CCM needs a care plan change in the month"


def test_admin_changes_the_99490_amount_and_a_policy_switch(
    admin_page: Page, live_server, shot, csp_violations
):
    page = admin_page
    demo = Practice.objects.get(slug="demo")
    page.goto(f"{live_server.url}/billing/fees/")
    amount = page.get_by_label("99490 practice amount (USD)")
    amount.fill("70.001")
    page.get_by_role("button", name="Save fee schedule").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.locator("main form")).to_contain_text("at most two decimals")
    assert loading.fee_schedule(demo).amount("99490") == Decimal("66.13")

    page.get_by_label("99490 practice amount (USD)").fill("70.00")
    page.get_by_role("button", name="Save fee schedule").click()
    expect(page.locator(".messages")).to_contain_text("Fee schedule saved")
    expect(page.get_by_label("99490 practice amount (USD)")).to_have_value("70.00")
    expect(page.locator('[data-effective="99490"]')).to_have_text("$70.00")
    expect(page.locator('[data-effective="99439"]')).to_have_text("$50.44")
    expect(page.get_by_text("Closed months are not affected")).to_be_visible()
    shot(page, "billing-fee-schedule-saved")
    assert loading.fee_schedule(demo).amount("99490") == Decimal("70.00")

    page.get_by_role("link", name="Billing policy").click()
    switch = page.get_by_label(R23)
    expect(switch).not_to_be_checked()
    switch.check()
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator(".messages")).to_contain_text("Billing policy saved")
    expect(page.get_by_label(R23)).to_be_checked()
    expect(page.get_by_role("button", name="Reset to defaults")).to_be_visible()
    shot(page, "billing-policy-saved")
    assert loading.policy(demo).complex_requires_plan_change_in_month is True
    assert csp_violations == []
