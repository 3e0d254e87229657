"""First sign-in with forced MFA in a real browser: background requests leave the secret alone."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in, totp_code

ACTIVATE = "/accounts/2fa/totp/activate/"


def test_biller_enrols_with_the_secret_on_screen_despite_background_requests(
    page: Page, live_server, demo, shot, csp_violations
):
    base = live_server.url
    sign_in(page, base, "biller@demo.test", demo)
    # allauth confirms the password before security settings change
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(demo)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{base}{ACTIVATE}")
    page.wait_for_load_state("networkidle")
    secret = page.locator("#authenticator_secret").input_value()

    # What the browser does behind the page: its own favicon request, and a page's fetch.
    statuses = page.evaluate(
        """async () => {
            const icon = await fetch("/favicon.ico", {credentials: "include"});
            const poll = await fetch("/home/", {credentials: "include"});
            return [icon.status, icon.headers.get("content-type"), poll.status];
        }"""
    )
    page.wait_for_load_state("networkidle")

    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "mfa-activate-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "mfa-activate-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.locator("input[name=code]").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page).not_to_have_url(f"{base}{ACTIVATE}")
    expect(page.locator(".errorlist")).to_have_count(0)

    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/home/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Billing")
    # the icon is a real one; the background fetch was refused, not sent to the set-up page
    assert statuses == [200, "image/x-icon", 403]
    assert csp_violations == []
