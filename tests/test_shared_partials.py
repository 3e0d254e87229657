"""One home each for pieces that pages and browser tests repeat (issue 15): the pager, a form's
error summary, the confirmation pages' error list, the billing settings pages' frame, and the
browser tests' sign-in. Each test reads the files and fails when a copy comes back."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
E2E = ROOT / "tests" / "e2e"


def _templates_holding(text: str) -> list[str]:
    return sorted(
        path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*.html")
        if text in path.read_text()
    )


def test_page_links_have_one_home():
    # The claims list's pager shows no count and keeps its own filters: another shape.
    assert _templates_holding('class="pager"') == ["billing/claim_list.html", "pager.html"]


def test_form_error_summaries_have_one_home():
    # A summary alert followed by the errors of no field; forms without a summary line make
    # their non-field errors the alert (<div class="errors" role="alert">) instead.
    assert _templates_holding('<div class="errors">{{ form.non_field_errors }}</div>') == [
        "form_errors.html"
    ]


def test_confirmation_pages_list_their_errors_in_the_base():
    assert _templates_holding("{% for e in field.errors %}") == ["confirm_base.html"]


def test_billing_settings_pages_share_their_frame():
    assert _templates_holding("Only practice admins change the") == ["billing/settings_base.html"]
    for name in ("fee_schedule.html", "policy.html"):
        first_line = (TEMPLATES / "billing" / name).read_text().splitlines()[0]
        assert first_line == '{% extends "billing/settings_base.html" %}'


def test_browser_tests_sign_in_through_the_conftest():
    form_steps = re.compile(r'goto\([^)]*/accounts/login/|name="Sign in"')
    copies = [path.name for path in E2E.glob("test_*.py") if form_steps.search(path.read_text())]
    assert copies == []
