"""Errors on pages have one renderer (ccm.forms: attach_errors on a form, flash_error as a
message): a view that catches a service's refusal hands it to them, never spells it itself."""

from __future__ import annotations

import ast
import pathlib

from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from ccm.api_auth import ApplicationError, StateConflict
from ccm.forms import attach_errors, flash_error

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("ccm", "patients", "careplans", "timelog", "billing")


class _Form(forms.Form):
    name = forms.CharField(required=False)


def _request():
    request = RequestFactory().post("/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_attach_errors_puts_each_refusal_by_its_field_or_above_the_form():
    for exc, expected in [
        (ValidationError({"name": "Too long.", "other": "Odd."}), {"name", "__all__"}),
        (StateConflict("Already enrolled."), {"__all__"}),
        (ApplicationError("The month is locked."), {"__all__"}),
    ]:
        form = _Form({})
        form.is_valid()
        attach_errors(form, exc)
        assert set(form.errors) == expected
    assert form.non_field_errors() == ["The month is locked."]


def test_flash_error_shows_the_sentences_in_one_message_or_one_each():
    request = _request()
    refusal = ValidationError(["No consent.", "No practitioner."])
    flash_error(request, refusal)
    flash_error(request, refusal, each=True)
    flash_error(request, ApplicationError("Locked."))
    shown = [(m.message, m.tags) for m in get_messages(request)]
    assert shown == [
        ("No consent. No practitioner.", "error"),
        ("No consent.", "error"),
        ("No practitioner.", "error"),
        ("Locked.", "error"),
    ]


def _direct_renders(handler: ast.ExceptHandler) -> list[int]:
    lines = []
    for node in ast.walk(handler):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            by_messages = isinstance(owner, ast.Name) and owner.id == "messages"
            if by_messages or node.func.attr == "add_error":
                lines.append(node.lineno)
    return lines


def test_views_render_a_caught_refusal_only_through_the_one_renderer():
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*views.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                # A handler that binds the exception shows what the service said.
                if isinstance(node, ast.ExceptHandler) and node.name:
                    rel = path.relative_to(ROOT)
                    found += [f"{rel}:{line}" for line in _direct_renders(node)]
    assert found == []
