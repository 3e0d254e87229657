"""One engine-input protocol (issue 15): only `patients.engine_inputs` locks patient rows and
only it (through the refresher timelog registers) refreshes progress. An AST walk over the app
code finds every other place; each left is on an explicit list below, to shrink, never grow."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("ccm", "patients", "careplans", "timelog", "billing")
HELPER = "patients/engine_inputs.py"

# Where `progress_refresh` may be named (its definition is no use of it): its registration as
# the helper's refresher.
PROGRESS_REFRESH_ALLOWED = {"billing/apps.py"}
# Patient rows locked outside the helper: none (the CSV imports go through it too).
PATIENT_LOCKS_ALLOWED: set[str] = set()
# The API's If-Match pre-lock by model (ccm.api.RowLock) of a patient's row: none (the patient
# views' pre-locks, patients.apis.PatientRowLock and lock_patient_of, call the helper).
ROW_LOCKS_ALLOWED: set[str] = set()
# A pre-lock by model the walk must find (it would pass the test for the wrong reason if not).
_ROW_LOCK_EXAMPLES = (
    'version_lock = RowLock(Patient, "patient_id")',
    'version_lock = RowLock(OtherService, "x_id", first=(Patient, {"pk": "patient_id"}))',
)


def _app_files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def _names(node):
    """Every name a chain of calls and attributes is built on (Patient.objects.x().y())."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _named(node):
    """The name a node uses or imports (a call, a reference, an attribute, an import)."""
    if isinstance(node, ast.ImportFrom):
        return {alias.name for alias in node.names}
    return {getattr(node, "id", None), getattr(node, "attr", None)}


def _progress_refresh_uses(tree):
    for node in ast.walk(tree):
        if "progress_refresh" in _named(node):
            yield node.lineno


def _patient_locks(tree):
    """select_for_update() on a Patient query, or Patient handed to a locking helper."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_lock = isinstance(func, ast.Attribute) and func.attr == "select_for_update"
        if is_lock and "Patient" in _names(func.value):
            yield node.lineno
        name = getattr(func, "id", getattr(func, "attr", ""))
        if name == "lock_for_practice_or_404" and node.args and "Patient" in _names(node.args[0]):
            yield node.lineno


def _row_locks(tree):
    for node in ast.walk(tree):
        is_row_lock = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "RowLock"
        if is_row_lock and "Patient" in _names(node):
            yield node.lineno


def _found(finder, allowed):
    return sorted(
        f"{path}:{line}"
        for path, tree in _app_files()
        if path not in allowed
        for line in finder(tree)
    )


def test_only_the_helper_refreshes_progress():
    assert _found(_progress_refresh_uses, PROGRESS_REFRESH_ALLOWED) == []


def test_only_the_helper_locks_patient_rows():
    assert _found(_patient_locks, PATIENT_LOCKS_ALLOWED | {HELPER}) == []


def test_the_api_pre_locks_of_patients_are_the_listed_ones():
    assert _found(_row_locks, ROW_LOCKS_ALLOWED) == []


def test_the_walk_finds_what_it_looks_for():
    """The finders see the helper's own lock and the allowed sites (a walk that found nothing
    would pass the tests above for the wrong reason)."""
    files = dict(_app_files())
    assert list(_patient_locks(files[HELPER]))
    for path in PATIENT_LOCKS_ALLOWED:
        assert list(_patient_locks(files[path])), path
    for path in PROGRESS_REFRESH_ALLOWED:
        assert list(_progress_refresh_uses(files[path])), path
    for path in ROW_LOCKS_ALLOWED:
        assert list(_row_locks(files[path])), path
    for example in _ROW_LOCK_EXAMPLES:
        assert list(_row_locks(ast.parse(example))), example


def test_the_api_pre_locks_of_patients_call_the_helper():
    """The patient views' If-Match pre-locks take the row through the helper (none by model)."""
    pre_locks = dict(_app_files())["patients/apis.py"]
    called = {
        getattr(node.func, "attr", None)
        for node in ast.walk(pre_locks)
        if isinstance(node, ast.Call)
    }
    assert {"lock_patient_or_404", "lock_patients"} <= called


def test_lower_apps_do_not_import_timelog_for_the_refresh():
    for path in ("patients/services.py", "careplans/services.py", HELPER):
        imported = {
            node.module
            for node in ast.walk(dict(_app_files())[path])
            if isinstance(node, ast.ImportFrom)
        }
        assert "timelog.services" not in imported, path
