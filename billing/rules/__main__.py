"""Command line of api-contract §5: `python -m billing.rules CASES.json` (or `-` for stdin).

Reads a JSON list of cases (only `id` and `input` are read) and prints one JSON list of
results in input order. If any case is malformed, every malformed case is reported on stderr,
one line each naming the case id and the field, nothing is printed on stdout and the exit
status is 2. Exit 1 means the engine itself failed (a bug); it is reported without a traceback.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from billing.rules.engine import evaluate
from billing.rules.parse import InputError, parse_input, result_to_json
from billing.rules.types import PatientMonth, Policy

USAGE = "usage: python -m billing.rules CASES.json   (or - to read stdin)"


class UsageError(Exception):
    """The file cannot be read or is not a JSON list; the message says why."""


def _read(source: str, stdin: TextIO) -> list[Any]:
    try:
        text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {source}: {exc}") from None
    try:
        # Money is parsed as Decimal, never float (R26).
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"{source} is nested too deeply to be a case list") from None
    if not isinstance(data, list):
        raise UsageError(f"{source} must hold a JSON list of cases")
    return data


def _case_id(case: Any, index: int) -> str:
    if isinstance(case, dict) and isinstance(case.get("id"), str) and case["id"].strip():
        return str(case["id"])
    return f"#{index + 1}"


def _parse_case(case: Any) -> tuple[PatientMonth, Policy]:
    if not isinstance(case, dict):
        raise InputError("case", "must be an object with id and input")
    if not isinstance(case.get("id"), str) or not case["id"].strip():
        raise InputError("id", "missing or not a non-empty string")
    if "input" not in case:
        raise InputError("input", "missing")
    return parse_input(case["input"])


def run(source: str, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Evaluate the case file; returns the exit status."""
    try:
        cases = _read(source, stdin)
    except UsageError as exc:
        print(f"error: {exc}", file=stderr)
        return 2
    parsed: list[tuple[str, PatientMonth, Policy]] = []
    errors: list[str] = []
    for index, case in enumerate(cases):
        case_id = _case_id(case, index)
        try:
            parsed.append((case_id, *_parse_case(case)))
        except InputError as exc:
            errors.append(f"case {case_id}: field {exc.field}: {exc.message}")
    if errors:
        for line in errors:
            print(f"error: {line}", file=stderr)
        print(
            f"error: {len(errors)} of {len(cases)} case(s) malformed; nothing evaluated",
            file=stderr,
        )
        return 2
    results = []
    for case_id, facts, policy in parsed:
        try:
            results.append(result_to_json(case_id, evaluate(facts, policy)))
        except Exception as exc:  # the contract forbids tracebacks, even for engine bugs
            print(
                f"error: case {case_id}: engine failure: {type(exc).__name__}: {exc}", file=stderr
            )
            return 1
    try:
        stdout.write(json.dumps(results, indent=2) + "\n")
        stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`; the reader left, nothing to report
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m billing.rules`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr)
        return 2
    return run(args[0], sys.stdin, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
