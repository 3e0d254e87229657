"""Every worked case of the spec (billing-cases.json, and Part II's
billing-cases-programs.json), table-driven, no database."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing.rules import evaluate
from billing.rules.parse import parse_input

HERE = Path(__file__).resolve().parent
CASES_PATH = HERE / "cases.json"
REPO_ROOT = HERE.parents[2]
SHARED_CASES = REPO_ROOT.parent / "shared/spec/billing-cases.json"
PROGRAM_CASES_PATH = HERE / "cases-programs.json"
SHARED_PROGRAM_CASES = REPO_ROOT.parent / "shared/spec/billing-cases-programs.json"
CCM_CASES: list[dict[str, Any]] = json.loads(CASES_PATH.read_text(), parse_float=Decimal)
# Part II (R38-R46): PCM and APCM months, in the same format.
PROGRAM_CASES: list[dict[str, Any]] = json.loads(
    PROGRAM_CASES_PATH.read_text(), parse_float=Decimal
)
CASES = CCM_CASES + PROGRAM_CASES


@pytest.mark.parametrize(
    ("copy", "spec"),
    [(CASES_PATH, SHARED_CASES), (PROGRAM_CASES_PATH, SHARED_PROGRAM_CASES)],
    ids=["billing-cases", "billing-cases-programs"],
)
def test_case_file_is_a_byte_identical_copy_of_the_spec(copy: Path, spec: Path) -> None:
    if not spec.exists():
        pytest.skip("../shared/spec is not present in this checkout")
    assert copy.read_bytes() == spec.read_bytes(), (
        f"tests/billing/rules/{copy.name} differs from ../shared/spec/{spec.name}; "
        "copy the spec's file again"
    )


def test_there_are_62_cases_with_unique_ids() -> None:
    ids = [case["id"] for case in CCM_CASES]
    assert len(ids) == 62
    assert len(set(ids)) == len(ids)


def test_there_are_12_program_cases_with_unique_ids_apart_from_the_ccm_ones() -> None:
    ids = [case["id"] for case in PROGRAM_CASES]
    assert len(ids) == 12
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {case["id"] for case in CCM_CASES}
    assert {case["input"]["program"] for case in PROGRAM_CASES} == {"pcm", "apcm"}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_gives_the_expected_claim(case: dict[str, Any]) -> None:
    facts, policy = parse_input(case["input"])
    result = evaluate(facts, policy)
    expect = case["expect"]

    assert [(line.code, line.units) for line in result.lines] == [
        (line["code"], line["units"]) for line in expect["lines"]
    ]
    assert result.billable is expect["billable"]
    assert set(result.blocked_by) == set(expect["blocked_by"])
    if "date_of_service" in expect:
        assert str(result.date_of_service) == expect["date_of_service"]
    if "diagnosis_pointers" in expect:
        assert list(result.diagnosis_pointers) == expect["diagnosis_pointers"]
    if "next_threshold" in expect:
        assert result.next_threshold is not None
        assert result.next_threshold.code == expect["next_threshold"]["code"]
        assert result.next_threshold.minutes_needed == expect["next_threshold"]["minutes_needed"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_result_explains_itself(case: dict[str, Any]) -> None:
    facts, policy = parse_input(case["input"])
    result = evaluate(facts, policy)

    for line in result.lines:
        assert re.match(r"R\d+(, R\d+)*: ", line.explanation), line.explanation
    assert len(result.reasons) == len(result.blocked_by)
    for rule, reason in zip(result.blocked_by, result.reasons, strict=True):
        assert reason.startswith(f"{rule}: ")
    numbers = [int(rule[1:]) for rule in result.blocked_by]
    assert numbers == sorted(numbers)
    if not result.billable:
        assert result.blocked_by, "a month that bills nothing must say why"
