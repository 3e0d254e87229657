"""ccm.pages is the one home of the steps pages share: page access (`page`) and a posted form
handed to a service (`submit`, whose refusals reach the form through ccm.forms.attach_errors)."""

from __future__ import annotations

import ast
import pathlib

import pytest
from django import forms
from django.core.exceptions import ValidationError

from ccm.api_auth import ApplicationError
from ccm.pages import submit

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("ccm", "patients", "careplans", "timelog", "billing")


class _Form(forms.Form):
    name = forms.CharField()


def test_submit_saves_only_a_valid_form_and_returns_the_services_result():
    calls = []
    invalid = submit(_Form({}), lambda: calls.append("saved"))
    assert not invalid
    assert invalid.refusal is None
    assert calls == []
    saved = submit(_Form({"name": "x"}), lambda: "result")
    assert saved
    assert saved.result == "result"


def test_submit_shows_a_listed_refusal_on_the_form_and_lets_others_through():
    form = _Form({"name": "x"})

    def refuse() -> None:
        raise ValidationError({"name": "Taken."})

    refused = submit(form, refuse)
    assert not refused
    assert refused.refused_by(ValidationError)
    assert form.errors == {"name": ["Taken."]}

    def locked() -> None:
        raise ApplicationError("The month is locked.")

    with pytest.raises(ApplicationError):
        submit(_Form({"name": "x"}), locked)
    form = _Form({"name": "x"})
    assert submit(form, locked, refused=(ApplicationError,)).refused_by(ApplicationError)
    assert form.non_field_errors() == ["The month is locked."]


def _view_modules() -> list[pathlib.Path]:
    return sorted(p for app in APPS for p in (ROOT / app).rglob("*views.py"))


def _attaches_in_handler(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for handler in ast.walk(tree)
        if isinstance(handler, ast.ExceptHandler)
        for node in ast.walk(handler)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "attach_errors"
    ]


def test_views_hand_posted_forms_to_submit_and_guard_pages_with_page():
    assert len(_view_modules()) >= 9  # the billing sub-packages' views are read too
    found = []
    for path in _view_modules():
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(), str(path))
        found += [f"{rel}:{n}: attach_errors in an except" for n in _attaches_in_handler(tree)]
        found += [
            f"{rel}:{node.lineno}: capability_required (use ccm.pages.page)"
            for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id == "capability_required"
        ]
    assert found == []
