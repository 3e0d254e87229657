"""HTML input for care plans: the editor's rows (named SECTION-KEY-FIELD, so htmx can add a
row with a fresh key), signing, the patient's copy, templates."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import QueryDict

from careplans import content as plan_content
from careplans.models import CopyMethod
from ccm.versioning import VersionedFormMixin

REMOVE = "remove"


def content_from_post(data: QueryDict) -> dict[str, Any]:
    """The editor's fields as plan content (rows in page order; rows marked remove dropped).
    Validation is the service's (careplans.content.clean)."""
    rows: dict[str, dict[str, dict[str, str]]] = {section: {} for section in plan_content.ROWS}
    for name in data:
        parts = name.split("-", 2)
        if len(parts) != 3 or parts[0] not in rows:
            continue
        section, key, field = parts
        if field in (*plan_content.ROWS[section], REMOVE):
            rows[section].setdefault(key, {})[field] = data.get(name, "")
    result: dict[str, Any] = {
        section: [row for row in keyed.values() if not row.get(REMOVE)]
        for section, keyed in rows.items()
    }
    for name in (*plan_content.TEXTS, *plan_content.DATES):
        result[name] = data.get(name, "")
    return result


class DraftForm(VersionedFormMixin):
    """The editor's version of the draft as opened (its rows and texts are read by
    content_from_post: htmx adds and removes rows with keys no form class can know)."""


class SignForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        required=False,
        help_text="Your CareMonth password, or the code below.",
    )
    code = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class CopyForm(forms.Form):
    given_on = forms.DateField(label="Given on", widget=forms.DateInput(attrs={"type": "date"}))
    method = forms.ChoiceField(label="How", choices=CopyMethod.choices)


class DraftStartForm(forms.Form):
    templates = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to use the templates matching the patient's conditions.",
    )

    def __init__(self, *args: Any, templates: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.MultipleChoiceField", self.fields["templates"])
        field.choices = [(str(t.pk), t.name) for t in templates]


def _lines(rows: list[dict[str, str]], fields: tuple[str, ...]) -> str:
    return "\n".join(" | ".join(row.get(f, "") for f in fields) for row in rows)


def _parse(text: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for line in text.splitlines():
        if line.strip():
            cells = [cell.strip() for cell in line.split("|")]
            rows.append(dict(zip(fields, cells + [""] * len(fields), strict=False)))
    return rows


GOAL_FIELDS = ("goal", "target", "measure")
INTERVENTION_FIELDS = ("intervention", "responsible")


class TemplateForm(VersionedFormMixin):
    name = forms.CharField(max_length=100)
    icd10_prefixes = forms.CharField(max_length=200, label="ICD-10-CM prefixes")
    expected_outcome = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    symptom_management = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    goals = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="One goal a line: goal | target | how it is measured.",
    )
    interventions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="One a line: intervention | who is responsible.",
    )
    is_active = forms.BooleanField(required=False, label="Use for new drafts")

    @classmethod
    def initial_for(cls, template: Any) -> dict[str, Any]:
        return {
            "name": template.name,
            "icd10_prefixes": template.icd10_prefixes,
            "expected_outcome": template.expected_outcome,
            "symptom_management": template.symptom_management,
            "goals": _lines(template.goals, GOAL_FIELDS),
            "interventions": _lines(template.interventions, INTERVENTION_FIELDS),
            "is_active": template.is_active,
        }

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_values()
        data["goals"] = _parse(data["goals"], GOAL_FIELDS)
        data["interventions"] = _parse(data["interventions"], INTERVENTION_FIELDS)
        return data
