"""An 837P submission batch of 10,000 claims: building it (the pure writer) and validating it
with pyx12, each next to a reference measured in the same run on the same data.

The claims are synthetic (no database): a realistic mix of Part B, Medicare Advantage,
Medicare secondary payer (a 2320 loop for the primary insurer), Part B with Medicaid or
Medigap secondary (a 2320 loop), corrected (frequency 7) and void (8) claims, one to three
lines each. Three runs; the medians are printed. References: for building, serialising the
same dataclasses with json.dumps (what any writer of this data costs at least); for
validating, pyx12 reading the same file segment by segment without checking it against the
guide (X12Reader: the parse that validation cannot avoid). Run from the repo root:
.venv/bin/python bench/batch_837.py [--claims N]
"""

import argparse
import dataclasses
import datetime as dt
import io
import json
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import _setup  # noqa: F401  (Django set-up: billing.exports.x12 imports the models)

from billing.exports import x12

RUNS = 3
CREATED = dt.datetime(2026, 11, 3, 15, 30, tzinfo=dt.UTC)
STREET = x12.Address(
    line1="100 Main Street", city="Springfield", state="IL", postal_code="627011234"
)
MAC = x12.Payer(name="Noridian JE Part B", payer_id="01112", filing_indicator="MB")
PLANS = [
    x12.Payer(name="Humana Gold Plus", payer_id="61101", filing_indicator="16"),
    x12.Payer(name="Aetna Medicare", payer_id="60054", filing_indicator="16"),
]
INSURER = x12.Payer(name="Blue Cross Employer Plan", payer_id="00621", filing_indicator="CI")
SECONDARIES = [
    x12.Payer(name="IL Medicaid", payer_id="77001", filing_indicator="MC"),
    x12.Payer(name="Mutual of Omaha Medigap", payer_id="71412", filing_indicator="CI"),
]
LINES = [
    (x12.ServiceLine("99490", Decimal("66.13"), 1),),
    (x12.ServiceLine("99490", Decimal("66.13"), 1), x12.ServiceLine("99439", Decimal("100.88"), 2)),
    (x12.ServiceLine("99491", Decimal("82.16"), 1), x12.ServiceLine("99437", Decimal("63.13"), 1)),
    (x12.ServiceLine("99487", Decimal("144.29"), 1), x12.ServiceLine("99489", Decimal("78.16"), 1)),
]
CODES = ["E11.9", "I10", "I50.22", "N18.4", "J44.9", "F33.1", "E78.5", "M17.0"]


def _claim(rng: random.Random, n: int) -> x12.ClaimData:
    kind = rng.random()
    patient = x12.Subscriber(
        member_id=f"{rng.randint(1, 9)}EG4TE5MK{rng.randint(10, 99)}",
        last_name=rng.choice(["Lovelace", "Hopper", "Turing", "Noether", "O'Brien"]),
        first_name=rng.choice(["Ada", "Grace", "Alan", "Emmy", "Siobhan"]),
        date_of_birth=dt.date(1930 + rng.randint(0, 30), rng.randint(1, 12), rng.randint(1, 28)),
        sex=rng.choice("FM"),
        address=STREET,
    )
    fields: dict[str, Any] = {"payer": MAC}
    if kind < 0.25:  # Medicare Advantage
        fields = {"payer": rng.choice(PLANS), "group_number": "G-1"}
    elif kind < 0.35:  # Medicare secondary payer: the employer plan pays first
        primary = x12.OtherPayer(payer=INSURER, responsibility="P", member_id="W12345678")
        fields.update(responsibility="S", msp_type="12", other_payers=(primary,))
    elif kind < 0.60:  # Part B with Medicaid or Medigap secondary
        second = x12.OtherPayer(rng.choice(SECONDARIES), responsibility="S", member_id="M9988")
        fields["other_payers"] = (second,)
    frequency = rng.random()
    if frequency < 0.03:
        fields.update(frequency="7", payer_claim_number=f"2226{n:09d}")
    elif frequency < 0.04:
        fields.update(frequency="8", payer_claim_number=f"2226{n:09d}")
    return x12.ClaimData(
        patient_control_number=f"{n:020X}",
        subscriber=patient,
        rendering_provider=x12.RenderingProvider("Physician", "Pat", "1679576722"),
        date_of_service=dt.date(2026, 10, 31),
        place_of_service="11",
        diagnosis_codes=tuple(rng.sample(CODES, rng.randint(2, 5))),
        lines=rng.choice(LINES),
        **fields,
    )


def _submission(count: int) -> x12.Submission:
    rng = random.Random(20261103)
    return x12.Submission(
        submitter=x12.Submitter("SUB0001", "Sunrise Clinic", "Billing Office", "5550100100"),
        receiver=x12.Receiver("01112", "Noridian JE Part B"),
        billing_provider=x12.BillingProvider(
            name="Sunrise Clinic", npi="1234567893", tax_id="12-3456789", address=STREET
        ),
        claims=tuple(_claim(rng, n) for n in range(count)),
    )


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _read_back(document: str) -> int:
    """pyx12 reading every segment of the file, without the guide's checks."""
    from pyx12.x12file import X12Reader

    return sum(1 for _segment in X12Reader(io.StringIO(document)))


def _json(submission: x12.Submission) -> str:
    return json.dumps(dataclasses.asdict(submission), default=str)


def _line(label: str, measured: float, reference: float, what: str) -> None:
    print(
        f"{label:<30} {measured:7.3f} s   {what:<36} {reference:7.3f} s   "
        f"ratio {measured / reference:5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    count = parser.parse_args().claims
    submission = _submission(count)
    builds, dumps, checks, reads = [], [], [], []
    document = ""
    for _run in range(RUNS):
        seconds, document = _timed(
            lambda: x12.build_837(submission, control_number=1, created_at=CREATED)
        )
        builds.append(seconds)
        dumps.append(_timed(lambda: _json(submission))[0])
    problems = x12.front_end_problems(submission)
    for _run in range(RUNS):
        seconds, findings = _timed(lambda: x12.validate_837(document))
        checks.append(seconds)
        reads.append(_timed(lambda: _read_back(document))[0])
    segments = document.count("~")
    print(
        f"== 837P batch: {count:,} claims, {segments:,} segments, {len(document.encode()):,} "
        f"bytes; medians of {RUNS} runs (same run, same data)"
    )
    _line("build_837 (pure writer)", statistics.median(builds), statistics.median(dumps),
          "reference json.dumps(asdict)")  # fmt: skip
    _line("validate_837 (pyx12, guide)", statistics.median(checks), statistics.median(reads),
          "reference pyx12 X12Reader read-back")  # fmt: skip
    verdict = "passed" if not findings else f"FAILED with {len(findings)} findings"
    print(f"pyx12: {verdict}; contractor front-end rules: {problems or 'passed'}")
    for finding in findings[:5]:
        print(f"  {finding}")


if __name__ == "__main__":
    main()
