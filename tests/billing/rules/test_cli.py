"""The command line of api-contract §5: `python -m billing.rules CASES.json` (or `-`)."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from billing.rules.__main__ import run

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
CASES_PATH = HERE / "cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_PATH.read_text())
CONTRACT_KEYS = {"id", "billable", "lines", "blocked_by", "reasons", "next_threshold"}


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing.rules", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _run(cases: Any) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = run("-", io.StringIO(json.dumps(cases)), stdout, stderr)
    return status, stdout.getvalue(), stderr.getvalue()


def _case(case_id: str) -> dict[str, Any]:
    found = next(case for case in CASES if case["id"] == case_id)
    return copy.deepcopy(found)


def test_good_file_prints_one_result_per_case_in_input_order() -> None:
    done = _cli(str(CASES_PATH))

    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [result["id"] for result in results] == [case["id"] for case in CASES]
    for result in results:
        assert set(result) >= CONTRACT_KEYS
        for line in result["lines"]:
            assert set(line) >= {"code", "units", "minutes", "explanation"}
    first = results[0]
    assert first["date_of_service"] == "2026-03-31"
    assert first["place_of_service"] == "11"
    assert first["diagnosis_pointers"] == ["E11.9", "I10"]


def test_stdin_gives_the_same_output_as_the_file() -> None:
    from_file = _cli(str(CASES_PATH))
    from_stdin = _cli("-", stdin=CASES_PATH.read_text())

    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout


def test_bad_file_exits_2_naming_case_and_field_without_traceback(tmp_path: Path) -> None:
    case = _case("B01")
    case["input"]["time_entries"][1]["performer"] = "nurse"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([case]))

    done = _cli(str(path))

    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "case B01: field input.time_entries[1].performer" in done.stderr


def test_non_json_input_exits_2_with_a_clear_message() -> None:
    done = _cli("-", stdin="this is not json")

    assert done.returncode == 2
    assert "not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_exits_2() -> None:
    done = _cli("/nonexistent/cases.json")

    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_argument_prints_usage_and_exits_2() -> None:
    done = _cli()

    assert done.returncode == 2
    assert "usage:" in done.stderr


def _break(case: dict[str, Any], path: str, value: Any) -> None:
    """Set (or with value=KeyError, delete) a dotted path like input.patient.mdm."""
    *parents, last = path.split(".")
    node: Any = case
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value


MALFORMED = [
    ("input.patient.consent", KeyError, "input.patient.consent"),
    ("input.month", "2026-13", "input.month"),
    ("input.month", "March", "input.month"),
    ("input.timezone", "Mars/Olympus_Mons", "input.timezone"),
    ("input.timezone", "../etc/passwd", "input.timezone"),
    ("input.patient.consent.given_on", "2026-02-30", "input.patient.consent.given_on"),
    ("input.patient.initiating_visit_on", "yesterday", "input.patient.initiating_visit_on"),
    ("input.time_entries.0.minutes", -5, "input.time_entries[0].minutes"),
    ("input.time_entries.0.minutes", 12.5, "input.time_entries[0].minutes"),
    ("input.time_entries.0.performer", "nurse", "input.time_entries[0].performer"),
    ("input.time_entries.0.started_at", "2026-03-04T15:00:00", "input.time_entries[0].started_at"),
    ("input.time_entries.0.face_to_face", "no", "input.time_entries[0].face_to_face"),
    ("input.patient.mdm", "extreme", "input.patient.mdm"),
    ("input.patient.chronic_conditions", "E11.9", "input.patient.chronic_conditions"),
    ("input.other_services", KeyError, "input.other_services"),
    ("input.ccm_billed_elsewhere", "false", "input.ccm_billed_elsewhere"),
    ("input.fee_schedule", {"99490": -1}, "input.fee_schedule.99490"),
    ("input.fee_schedule", {"99490": 66.134}, "input.fee_schedule.99490"),
    ("input.policy", {"cap_99437": "two"}, "input.policy.cap_99437"),
    ("input.policy", {"no_such_switch": True}, "input.policy.no_such_switch"),
    ("input", KeyError, "input"),
    # Part II's optional inputs (R38, R39, R41, R43).
    ("input.program", "rpm", "input.program"),
    ("input.program", "CCM", "input.program"),
    ("input.program", None, "input.program"),
    ("input.apcm_attested", "yes", "input.apcm_attested"),
    ("input.apcm_attested", 1, "input.apcm_attested"),
    ("input.patient.qmb", "true", "input.patient.qmb"),
    ("input.patient.qmb", None, "input.patient.qmb"),
    ("input.patient.pcm_condition", 250.0, "input.patient.pcm_condition"),
    ("input.patient.pcm_condition", ["E11.9"], "input.patient.pcm_condition"),
    ("input.patient.pcm_condition", "  ", "input.patient.pcm_condition"),
    ("input.policy", {"cap_99425": -1}, "input.policy.cap_99425"),
    ("input.policy", {"oversight_blocks_apcm": "on"}, "input.policy.oversight_blocks_apcm"),
]


@pytest.mark.parametrize(("path", "value", "field"), MALFORMED, ids=[m[2] for m in MALFORMED])
def test_malformed_field_is_reported_by_case_and_field(path: str, value: Any, field: str) -> None:
    case = _case("B01")
    _break(case, path, value)

    status, stdout, stderr = _run([case])

    assert status == 2
    assert stdout == ""
    assert f"case B01: field {field}:" in stderr


def test_an_unknown_program_is_named_with_the_programs_allowed() -> None:
    case = _case("B01")
    case["input"]["program"] = "rpm"

    status, _stdout, stderr = _run([case])

    assert status == 2
    assert (
        "case B01: field input.program: must be one of ccm, pcm or apcm (R38), got 'rpm'" in stderr
    )


def test_the_program_inputs_are_optional_and_default_to_ccm() -> None:
    case = _case("B01")
    explicit = copy.deepcopy(case)
    explicit["input"].update(program="ccm", apcm_attested=False)
    explicit["input"]["patient"].update(qmb=False, pcm_condition=None)

    assert _run([case]) == _run([explicit])


def test_a_cap_above_the_specs_limit_is_refused_naming_the_policy() -> None:
    case = _case("B01")
    case["input"]["policy"] = {"cap_99427": 3}

    status, stdout, stderr = _run([case])

    # R44's cap 2 is also the most a practice may set (until the CMS MUE table is loaded).
    assert status == 2
    assert stdout == ""
    assert "case B01: field input.policy.cap_99427: must be a whole number from 0 to 2" in stderr


def test_a_place_of_service_outside_the_code_set_is_an_input_error() -> None:
    case = _case("B01")
    case["input"]["policy"] = {"place_of_service": "00"}

    status, stdout, stderr = _run([case])

    assert status == 2
    assert stdout == ""
    assert "case B01: field input.policy: unknown place of service '00'" in stderr


def test_mixed_file_reports_every_bad_case_and_no_good_one() -> None:
    good, bad_minutes, bad_zone = _case("B02"), _case("B05"), _case("B41")
    bad_minutes["input"]["time_entries"][0]["minutes"] = -1
    bad_zone["input"]["timezone"] = "Nowhere/Special"

    status, stdout, stderr = _run([good, bad_minutes, bad_zone])

    assert status == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert lines[0] == (
        "error: case B05: field input.time_entries[0].minutes: must not be negative, got -1"
    )
    assert lines[1].startswith("error: case B41: field input.timezone:")
    assert lines[2] == "error: 2 of 3 case(s) malformed; nothing evaluated"
    assert "B02" not in stderr


def test_case_without_an_id_is_named_by_position() -> None:
    status, _, stderr = _run([_case("B01"), {"input": {}}])

    assert status == 2
    assert "case #2: field id:" in stderr


def test_top_level_must_be_a_list() -> None:
    status, _, stderr = _run({"id": "B01"})

    assert status == 2
    assert "must hold a JSON list of cases" in stderr


def test_policy_override_in_the_input_changes_the_outcome() -> None:
    case = _case("B21")
    case["input"]["policy"] = {"complex_requires_plan_change_in_month": True}

    status, stdout, _ = _run([_case("B21"), case])

    assert status == 0
    default, strict = json.loads(stdout)
    assert [line["code"] for line in default["lines"]] == ["99487", "99489"]
    assert [(line["code"], line["units"]) for line in strict["lines"]] == [
        ("99490", 1),
        ("99439", 2),
    ]


def test_money_is_printed_as_exact_decimal_strings() -> None:
    status, stdout, _ = _run([_case("B52")])

    assert status == 0
    (result,) = json.loads(stdout)
    assert result["lines"][0]["amount"] == "167.01"
    assert result["total"] == "167.01"
