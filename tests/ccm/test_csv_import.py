"""The one CSV import pipeline (ccm/csv_import.py): every import table has its hooks, and the
importing apps leave the flow (file checks, claim, audit, transactions) to the pipeline."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from django.apps import apps

from billing.facts import imports as service_imports
from ccm import audit, csv_import
from ccm.models import AuditEvent
from patients import imports as patient_imports
from tests.factories import PatientFactory

KINDS = [patient_imports.KIND, service_imports.KIND]
# What only the pipeline does: reading files, claiming and auditing an import, transactions.
PIPELINE_ONLY = {
    "atomic",
    "AuditEvent",
    "tablib",
    "load_csv",
    "decode",
    "unscoped",
    "State",
    "MAX_STORED_ERRORS",
}
# What only each module's one engine-input function does (to swap for the shared helper).
ENGINE_INPUT_ONLY = {"engine_inputs"}
LOCKS_AND_REFRESHES = {"select_for_update", "progress_refresh"}


def _tree(kind: csv_import.ImportKind[object]) -> ast.Module:
    return ast.parse(Path(inspect.getfile(type(kind))).read_text())


def _names(node: ast.AST) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def test_every_import_table_has_one_kind_of_import():
    tables = {m for m in apps.get_models() if issubclass(m, csv_import.ImportRecord)}
    kinds = [type(k) for k in KINDS]
    assert set(csv_import.ImportKind.__subclasses__()) == set(kinds)
    assert {k.model for k in KINDS} == tables
    assert len(tables) == len(KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: type(k).__name__)
def test_a_kind_labels_every_column_it_reads(kind):
    assert set(kind.labels) == set(kind.columns)
    assert set(kind.required) <= set(kind.columns)
    assert "{columns}" in kind.missing_columns_message


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: type(k).__name__)
def test_an_importing_app_leaves_the_flow_to_the_pipeline(kind):
    used = _names(_tree(kind)) & PIPELINE_ONLY
    assert not used, f"{type(kind).__name__}'s module does the pipeline's work: {used}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: type(k).__name__)
def test_an_import_locks_and_refreshes_in_one_function(kind):
    functions = [n for n in ast.walk(_tree(kind)) if isinstance(n, ast.FunctionDef)]
    holders = [f.name for f in functions if _names(f) & ENGINE_INPUT_ONLY]
    assert holders == ["_engine_input"]
    (engine_input,) = (f for f in functions if f.name == "_engine_input")
    assert _names(engine_input) >= ENGINE_INPUT_ONLY
    assert not _names(_tree(kind)) & LOCKS_AND_REFRESHES, "locks and refreshes: the helper's job"


def test_a_bulk_write_is_audited_row_by_row(scope, coordinator):
    first, second = PatientFactory(practice=scope), PatientFactory(practice=scope)
    events = [
        audit.RowEvent("patient.import_create", first, first.pk, ["mrn", "first_name"]),
        audit.RowEvent("patient.import_update", second, second.pk),
    ]
    assert audit.record_rows(coordinator, events) == 2
    rows = AuditEvent.objects.filter(patient_id__in=[first.pk, second.pk]).order_by("action")
    assert [(e.action, e.object_id, e.changed_fields) for e in rows] == [
        ("patient.import_create", str(first.pk), ["first_name", "mrn"]),
        ("patient.import_update", str(second.pk), []),
    ]
    assert {e.actor_id for e in rows} == {coordinator.user_id}
