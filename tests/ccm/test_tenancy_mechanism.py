"""One tenancy mechanism (issue 15 point 1): `for_practice(practice)` is the practice-bound
query; `.unscoped()` stays only where reading across practices is the point."""

import ast
import pathlib

import pytest

from ccm.models import AuditEvent, Membership
from ccm.tenancy import NoPracticeScope, lock_for_practice_or_404, practice_scope
from patients.models import Patient
from tests.factories import PatientFactory

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("ccm", "patients", "careplans", "timelog", "billing")

# Module → why it reads or writes across practices. Nothing else may call `.unscoped(`.
UNSCOPED_ALLOWED = {
    "ccm/tenancy.py": "tenancy itself: resolves the practice from the session or the token",
    "ccm/audit.py": "the audit log: events without a practice, one seal chain over all practices",
    "ccm/services.py": "member invitations: the task is handed a membership id, not a practice",
    "billing/close/services.py": "the stalled-close sweep: one beat job over every practice",
    "billing/close/metrics.py": "/metrics: installation-wide counts of closes, no row leaves",
}


def unscoped_calls(path: pathlib.Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "unscoped"
    ]


def app_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path


def test_unscoped_is_called_only_where_reading_across_practices_is_the_point():
    stray = {
        name: lines
        for name, path in app_modules()
        if (lines := unscoped_calls(path)) and name not in UNSCOPED_ALLOWED
    }
    assert stray == {}, (
        "Use Model.objects.for_practice(practice); .unscoped() only where crossing practices "
        "is the point (add the module to UNSCOPED_ALLOWED with the reason)."
    )


def test_every_allowed_unscoped_call_says_why():
    missing = []
    for name in UNSCOPED_ALLOWED:
        path = ROOT / name
        lines = path.read_text().splitlines()
        for lineno in unscoped_calls(path):
            window = "\n".join(lines[max(0, lineno - 4) : lineno + 1])
            if "#" not in window and '"""' not in window:
                missing.append(f"{name}:{lineno}")
    assert missing == [], "each .unscoped() call needs a one-line why-comment above it"


def test_at_most_fifteen_unscoped_calls_remain_outside_tenancy():
    total = sum(
        len(unscoped_calls(path)) for name, path in app_modules() if name != "ccm/tenancy.py"
    )
    assert total <= 15


def test_the_checker_sees_an_unscoped_call(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("Patient.objects.unscoped().filter(practice=p)\n")
    assert unscoped_calls(sample) == [1]


def test_for_practice_reads_that_practice_whatever_the_active_scope(admin, outsider):
    with practice_scope(outsider.practice):
        assert list(Membership.objects.for_practice(admin.practice)) == [admin]
    assert list(Membership.objects.for_practice(admin.practice_id)) == [admin]


def test_for_practice_without_a_practice_fails_closed():
    with pytest.raises(NoPracticeScope):
        Membership.objects.for_practice(None)


def test_writes_through_for_practice_belong_to_that_practice(admin, outsider):
    event = AuditEvent.objects.for_practice(admin.practice).create(action="test.bound")
    assert event.practice_id == admin.practice_id
    with pytest.raises(NoPracticeScope, match="another practice"):
        AuditEvent.objects.for_practice(admin.practice).create(
            practice=outsider.practice, action="test.bound"
        )
    with pytest.raises(NoPracticeScope, match="another practice"):
        AuditEvent.objects.for_practice(admin.practice).bulk_create(
            [AuditEvent(practice=outsider.practice, action="test.bound")]
        )
    assert (
        not AuditEvent.objects.for_practice(outsider.practice).filter(action="test.bound").exists()
    )


def test_lock_for_practice_or_404_takes_the_model(admin, outsider):
    from django.db import transaction
    from django.http import Http404

    patient = PatientFactory(practice=admin.practice)
    with transaction.atomic():
        assert lock_for_practice_or_404(Patient, admin.practice, patient.pk) == patient
        with pytest.raises(Http404):
            lock_for_practice_or_404(Patient, outsider.practice, patient.pk)
