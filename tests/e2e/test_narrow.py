"""The main pages on a phone (390 px): nothing scrolls sideways, and the whole main
navigation ("Care plans") and "Sign out" can be reached. Each page is photographed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from billing.models import Claim
from ccm.models import Membership, Practice
from patients.models import Patient
from tests.e2e.conftest import ARTIFACTS

PHONE = {"width": 390, "height": 844}


def _pages() -> list[tuple[str, str]]:
    patient = Patient.objects.unscoped().filter(practice__slug="demo").order_by("mrn").first()
    claim = Claim.objects.unscoped().filter(practice__slug="demo").order_by("-month").first()
    assert patient is not None
    assert claim is not None
    return [
        ("home", "/home/"),
        ("worklist", "/worklist/"),
        ("patients", "/patients/"),
        ("chart", f"/patients/{patient.pk}/"),
        ("care-plans", "/care-plans/queue/"),
        ("claims", f"/billing/months/{claim.month:%Y-%m}/claims/"),
        ("months", "/billing/months/"),
        ("my-time", "/time/"),
        ("audit", "/audit/"),
    ]


def _overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _inner_scrollers(page: Page) -> list[str]:
    """Boxes inside the page that scroll sideways on their own (a table cut at the edge)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.tagName !== 'PRE' && e.scrollWidth > e.clientWidth + 1
                    && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
            .slice(0, 8)
            .map(e => e.tagName + '.' + e.className + ' ' + e.scrollWidth + '>' + e.clientWidth)"""
    )


def _wide_elements(page: Page) -> list[str]:
    """The elements running past the right edge (to say which one, when the test fails)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 8)
            .map(e => e.tagName + '.' + e.className + ' '
                      + Math.round(e.getBoundingClientRect().right))"""
    )


@pytest.mark.parametrize("width", [390, 1280])
def test_main_pages_do_not_scroll_sideways_on_a_phone(admin_page: Page, live_server, width):
    page, base = admin_page, live_server.url
    page.set_viewport_size({**PHONE, "width": width})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failures = {}
    for name, path in _pages():
        response = page.goto(f"{base}{path}")
        assert response is not None
        assert response.status == 200, path
        # The first screens of the page (a whole long list would be too tall to look at).
        page.screenshot(
            path=str(ARTIFACTS / f"narrow-{name}-{width}.png"),
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": 1600},
        )
        if _overflow(page) > 0:
            failures[name] = (_overflow(page), _wide_elements(page))
        if _inner_scrollers(page):
            failures[name] = _inner_scrollers(page)
    assert failures == {}


def test_care_plans_and_sign_out_are_reachable_on_a_phone(admin_page: Page, live_server):
    page, base = admin_page, live_server.url
    # A member of two practices gets the practice switcher too: the widest top bar.
    admin = Membership.objects.unscoped().get(user__email="admin@demo.test")
    other = Practice.objects.get(slug="other")
    Membership.objects.unscoped().create(practice=other, user=admin.user, role=admin.role)
    for width in (390, 560, 700, 900):
        page.set_viewport_size({**PHONE, "width": width})
        page.goto(f"{base}/worklist/")
        expect(page.get_by_label("Active practice")).to_be_visible()
        nav = page.get_by_role("navigation", name="Main")
        care_plans = nav.get_by_role("link", name="Care plans")
        sign_out = page.get_by_role("button", name="Sign out")
        for control in (care_plans, sign_out):
            expect(control).to_be_visible()
            box = control.bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= width, width
        assert _overflow(page) <= 0, (width, _wide_elements(page))
        page.screenshot(path=str(ARTIFACTS / f"narrow-topbar-{width}.png"))
    page.set_viewport_size(PHONE)
    care_plans.click()
    expect(page).to_have_url(f"{base}/care-plans/queue/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/accounts/login/")
