"""EHR candidate-list import of 5,000 rows: preview, apply (creates), re-import (updates).

Generates a realistic CSV (deterministic random: names, MRNs, US phones, MBIs, 1-4 ICD-10-CM
codes, a few bad rows), imports it into a fresh practice (slug bench-import-<random>) in the
dev database or DATABASE_URL's, and prints seconds per step. Target: under 30 s in total.
Run from the repository root: .venv/bin/python bench/patient_import.py
"""

import datetime as dt
import random
import secrets
import time

import _setup  # noqa: F401 (Django set-up)
import tablib

from ccm.models import Membership, Practice, Role, User
from ccm.tenancy import practice_scope
from patients import imports
from patients.demo import CONDITION_SETS, FIRST, LAST, fake_mbi
from patients.models import Condition, Patient

ROWS = 5_000
BAD_EVERY = 250  # one row in 250 has a mistake, as real exports do
HEADER = ["MRN", "Last Name", "First Name", "DOB", "Gender", "Home Phone", "Medicare ID",
          "ICD-10 Codes", "PCP"]  # fmt: skip


def make_csv(seed: str, *, changed: bool = False) -> str:
    """The EHR export; `changed` gives every patient a new phone and one more condition."""
    rng = random.Random(seed)  # test data, deterministic
    data = tablib.Dataset(headers=HEADER)
    for i in range(1, ROWS + 1):
        born = dt.date(rng.randint(1930, 1960), rng.randint(1, 12), rng.randint(1, 28))
        codes = list(rng.choice(CONDITION_SETS))
        phone = f"(518) 555-{rng.randint(0, 9999):04d}"
        if changed:
            phone, codes = f"(212) 555-{rng.randint(0, 9999):04d}", [*codes, "E66.9"]
        row = [
            f"EHR{i:06d}",
            rng.choice(LAST),
            rng.choice(FIRST),
            born.strftime("%m/%d/%Y") if i % 2 else born.isoformat(),
            rng.choice(("F", "M", "Female", "Male")),
            phone,
            fake_mbi(rng),
            "; ".join(codes),
            "Dr. Example",
        ]
        if i % BAD_EVERY == 0:
            row[7] = "E11"  # a category, not billable
        data.append(row)
    return str(data.export("csv"))


def bench_practice() -> tuple[Practice, Membership]:
    slug = f"bench-import-{secrets.token_hex(4)}"
    practice = Practice.objects.create(name=f"Bench {slug}", slug=slug, billing_npi="1234567893")
    user = User.objects.create(email=f"coordinator@{slug}.bench")
    member = Membership.objects.for_practice(practice).create(
        practice=practice, user=user, role=Role.COORDINATOR
    )
    return practice, member


def timed(label: str, call):
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    print(f"{label:<34} {seconds:6.2f} s")
    return result, seconds


def main() -> None:
    practice, coordinator = bench_practice()
    first, second = make_csv("bench-import"), make_csv("bench-import", changed=True)
    print(f"== {ROWS} rows, {len(first) / 1e6:.1f} MB, practice {practice.slug}")
    total = 0.0
    with practice_scope(practice):
        imports._code_error("I10")  # load the ICD-10-CM tables once (about 3 s), not timed
        for label, text in (("import", first), ("re-import (all changed)", second)):
            record, seconds = timed(
                f"{label}: preview",
                lambda text=text: imports.import_preview(
                    practice=practice, actor=coordinator, content=text.encode()
                ),
            )
            total += seconds
            record, seconds = timed(
                f"{label}: apply",
                lambda record=record: imports.import_apply(
                    practice=practice, actor=coordinator, patient_import=record
                ),
            )
            total += seconds
            print(
                f"   rows {record.row_count}, valid {record.valid_count}, "
                f"created {record.created_count}, updated {record.updated_count}"
            )
        patients, conditions = Patient.objects.count(), Condition.objects.count()
    print(f"total {total:.2f} s (target < 30 s); {patients} patients, {conditions} conditions")


if __name__ == "__main__":
    main()
