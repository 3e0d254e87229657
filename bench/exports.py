"""Month exports at ~10,000 claims (issue 18, target 5): what a request costs and what the
worker costs, each next to a reference measured in the same run, median of 3.

- Worker: the CSV, the PDF summary and the X12 837P built by billing.exports.services
  (`export_prepare`, as the Celery task runs it), against one SQL fetch of the same rows
  (claims with patient, practitioner and lines) as the floor.
- Requests (Django test client, in process): asking for an export (POST, 202), polling it,
  downloading the stored file, against GET /api/v1/me/. On a checkout without prepared
  exports (main before issue 18) the script times the direct in-request downloads instead.

    DATABASE_URL=postgres://…/cm_x .venv/bin/python bench/exports.py [claims] [--keep] [--reuse]

Seeds through bench/month_close.py (patients, 200k entries, a real close) in a throwaway
database `<db>_bench_exports`, dropped at the end; `--keep` leaves it, `--reuse` runs on the
one a `--keep` run left (no seeding; compare two checkouts on the same rows).
"""

import month_close as mc  # first: bench/ leaves sys.path once _setup runs  # isort: skip

import argparse
import os
import collections
import contextlib
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client

from billing.close import services as close_services
from billing.exports import services as exports
from ccm.models import Membership, Role, User
from ccm.months import month_label
from ccm.tenancy import practice_scope
from tests.factories import enroll_totp

RUNS = 3
REQUEST_TARGET = 2.0  # s: no request in bench/ over this (issue 18)
PDF_TARGET = 30.0  # s in the worker for 10,000 claims

FLOOR_SQL = """
SELECT c.id, p.mrn, p.mbi, p.last_name, p.first_name, p.date_of_birth, m.npi, u.full_name,
       c.date_of_service, c.place_of_service, l.position, l.code, l.units, l.minutes,
       l.charge, c.diagnosis_codes, c.status
FROM billing_claim c
JOIN patients_patient p ON p.id = c.patient_id
JOIN ccm_membership m ON m.id = c.billing_practitioner_id
JOIN ccm_user u ON u.id = m.user_id
JOIN billing_claimline l ON l.claim_id = c.id
WHERE c.practice_id = %s AND c.month = %s AND c.status <> 'withdrawn'
ORDER BY p.last_name, p.first_name, c.id, l.position
"""


CPU: list[float] = []  # this process's CPU time of the last median_of, median (no DB time)


def median_of(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, Any]:
    """Median wall time of `runs` calls and the last result; the median CPU time in CPU[0]
    (on a loaded machine, wall time includes waiting for a core)."""
    times, cpus, result = [], [], None
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    CPU[:] = [statistics.median(cpus)]
    return statistics.median(times), result


def floor(practice: Any, month: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, [practice.pk, month])
        return len(cursor.fetchall())


def show(label: str, seconds: float, reference: float, ref_label: str, extra: str = "") -> None:
    ratio = seconds / reference if reference else float("inf")
    print(
        f"  {label:<44} {seconds:8.3f} s   {ratio:8.1f}x {ref_label}  (cpu {CPU[0]:.2f} s){extra}"
    )


def seed(claims_wanted: int) -> tuple[Any, Any, Membership]:
    size = claims_wanted * 100 // 44  # about 44 % of the enrolled bill in the seed
    # Fewer, longer entries than the close bench (the minutes per patient are the same): the
    # exports read claims, not entries.
    mc.ENTRIES_PER_PATIENT = 4
    mc.PHYSICIAN_SHARE = 0.05
    start = time.perf_counter()
    practice, month = mc.seed(size)  # patients, entries, coverage, consents, VACUUM ANALYZE
    close = close_services.month_close(practice_id=practice.pk, month=month)
    mc.billing_setup(practice)
    user = User.objects.create(email="biller@mc.bench", full_name="Bench Biller")
    biller = Membership.objects.for_practice(practice).create(
        practice=practice, user=user, role=Role.BILLER
    )
    enroll_totp(user)  # billers must use MFA; the test client's login then passes
    print(
        f"seeded and closed {month_label(month)}: {close.claims:,} claims in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return practice, month, biller


def worker(practice: Any, month: Any, biller: Membership) -> None:
    print(f"worker (billing.exports.services.export_prepare), median of {RUNS}:")
    ref, rows = median_of(lambda: floor(practice, month))
    print(
        f"  {'reference: one SQL fetch of the same rows':<44} {ref:8.3f} s   ({rows:,} rows; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    PreparedExport = exports.PreparedExport

    def build(kind: str) -> Any:
        prepared = PreparedExport.objects.for_practice(practice).create(
            practice=practice, month=month, kind=kind, requested_by=biller
        )
        done = exports.export_prepare(practice_id=practice.pk, export_id=prepared.pk)
        assert done.status == "ready", done.error
        return done

    for kind, label in (("csv", "CSV"), ("pdf", "PDF summary")):
        seconds, done = median_of(lambda kind=kind: build(kind))
        target = f" (target <= {PDF_TARGET:.0f} s)" if kind == "pdf" else ""
        show(label, seconds, ref, "SQL", f", {done.size:,} bytes{target}")
    first, done = median_of(lambda: build("837"), runs=1)
    show("X12 837P, first (creates the batch)", first, ref, "SQL", f", {done.size:,} bytes")
    again, done = median_of(lambda: build("837"))
    show("X12 837P, again (the month's batch)", again, ref, "SQL")


def pdf_phases(practice: Any, month: Any) -> None:
    """Where the PDF's time goes (one build, wall time per phase): reading the claims, the
    HTML (rows and template), WeasyPrint's parse, style and layout (`render`), and drawing the
    PDF (`write_pdf`). Patched by name, so it also times older checkouts."""
    import weasyprint
    from weasyprint.document import Document

    from billing.claims.selectors import month_claims
    from billing.models import MonthClose

    totals: dict[str, float] = collections.defaultdict(float)
    close = MonthClose.objects.for_practice(practice).get(month=month)
    with contextlib.ExitStack() as stack:
        stack.enter_context(mc.accumulate(exports, "render_to_string", totals, "template"))
        stack.enter_context(mc.accumulate(exports, "pdf_claim_rows", totals, "rows"))
        stack.enter_context(mc.accumulate(exports, "pdf_html", totals, "html"))
        stack.enter_context(mc.accumulate(weasyprint.HTML, "render", totals, "render"))
        stack.enter_context(mc.accumulate(Document, "write_pdf", totals, "write_pdf"))
        start, cpu = time.perf_counter(), time.process_time()
        if hasattr(exports, "month_pdf"):  # plain rows (issue 18), else Claim instances
            claims: list[Any] = exports.pdf_claims(practice, month)
            read = time.perf_counter() - start
            pdf = exports.month_pdf(practice, close, claims)
        else:
            claims = list(month_claims(practice, month))
            read = time.perf_counter() - start
            pdf = exports.render_pdf(practice, close, claims)
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu
    print(
        f"PDF phases (one build, {len(claims):,} claims, {len(pdf):,} bytes): total {total:.2f} s "
        f"(cpu {cpu:.2f} s; load average {os.getloadavg()[0]:.1f}); read claims {read:.2f} s"
    )
    for key in ("rows", "template", "html", "render", "write_pdf"):
        if totals[f"{key} calls"]:
            print(f"  {key:<10} {totals[key]:7.2f} s  ({totals[key] / total:5.1%}; "
                  f"{totals[f'{key} calls']:.0f} calls)")  # fmt: skip


def requests_prepared(practice: Any, month: Any, biller: Membership) -> None:
    print(f"requests (Django test client, in process), median of {RUNS}:")
    client = Client()
    client.force_login(biller.user)
    label = month_label(month)
    ref, _ = median_of(lambda: client.get("/api/v1/me/"))
    print(f"  {'reference: GET /api/v1/me/':<44} {ref:8.3f} s")
    # The worker's part is not in the request: queued only (the broker answers, nobody takes).
    from unittest import mock

    from billing.exports import tasks

    results = {}
    with mock.patch.object(tasks.export_prepare, "delay"):

        def ask() -> Any:
            exports.PreparedExport.objects.for_practice(practice).filter(
                status__in=["pending", "running"]
            ).delete()
            return client.post(
                f"/api/v1/billing/months/{label}/exports/",
                {"kind": "pdf"},
                content_type="application/json",
            )

        seconds, response = median_of(ask)
        assert response.status_code == 202, response.content
        results["POST …/exports/ (202)"] = seconds
        body = response.json()
        seconds, again = median_of(
            lambda: client.post(
                f"/api/v1/billing/months/{label}/exports/",
                {"kind": "pdf"},
                content_type="application/json",
            )
        )
        results["POST again while pending (202, same)"] = seconds
        assert again.json()["id"] == body["id"]
    exports.export_prepare(practice_id=practice.pk, export_id=body["id"])
    seconds, _ = median_of(lambda: client.get(body["status_url"]))
    results["GET status"] = seconds
    seconds, _ = median_of(
        lambda: client.get(f"/billing/exports/{body['id']}/", headers={"HX-Request": "true"})
    )
    results["GET status fragment (htmx poll)"] = seconds

    def download() -> Any:
        response = client.get(body["download_url"])
        assert response.status_code == 200
        return b"".join(response.streaming_content)

    seconds, data = median_of(download)
    results[f"GET download PDF ({len(data):,} bytes, audited)"] = seconds
    seconds, _ = median_of(lambda: client.get(f"/billing/months/{label}/exports/"))
    results["GET exports page"] = seconds
    seconds, response = median_of(lambda: client.get(f"/api/v1/billing/months/{label}/export.csv"))
    answer = "409: prepare it" if response.status_code == 409 else f"{response.status_code}"
    results[f"GET direct export.csv ({answer})"] = seconds
    for name, seconds in results.items():
        over = "" if seconds < REQUEST_TARGET else f"  OVER {REQUEST_TARGET:.0f} s"
        show(name, seconds, ref, "/me/", over)


def requests_direct(practice: Any, month: Any, biller: Membership) -> None:
    """Before issue 18: the exports built inside the request."""
    print(f"requests building the export (Django test client, in process), median of {RUNS}:")
    client = Client()
    client.force_login(biller.user)
    label = month_label(month)
    ref, _ = median_of(lambda: client.get("/api/v1/me/"))
    print(f"  {'reference: GET /api/v1/me/':<44} {ref:8.3f} s")

    def get(path: str) -> Any:
        response = client.get(path)
        assert response.status_code == 200, response.status_code
        if response.streaming:
            return b"".join(response.streaming_content)
        return response.content

    for path in ("export.csv", "export.pdf"):
        seconds, data = median_of(lambda path=path: get(f"/billing/months/{label}/{path}"))
        over = "" if seconds < REQUEST_TARGET else f"  OVER {REQUEST_TARGET:.0f} s"
        show(f"GET {path} ({len(data):,} bytes)", seconds, ref, "/me/", over)


def seeded() -> tuple[Any, Any, Membership]:
    """The practice, month and biller a `--keep` run left."""
    from billing.models import MonthClose

    close = MonthClose.objects.unscoped().filter(status="closed").order_by("-claims").first()
    assert close is not None, "nothing to reuse: run with --keep first"
    with practice_scope(close.practice_id):
        biller = (
            Membership.objects.for_practice(close.practice_id)
            .select_related("practice", "user")
            .get(user__email="biller@mc.bench")
        )
    print(f"reusing {month_label(close.month)}: {close.claims:,} claims")
    return biller.practice, close.month, biller


def pdf_only(practice: Any, month: Any, biller: Membership) -> None:
    """The PDF next to the CSV and the SQL fetch, alternating within each of RUNS rounds."""
    print(f"worker, PDF only, median of {RUNS} (each round: SQL, CSV, PDF):")
    PreparedExport = exports.PreparedExport
    times: dict[str, list[float]] = collections.defaultdict(list)
    cpus: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(RUNS):
        for kind in ("sql", "csv", "pdf"):
            start, cpu = time.perf_counter(), time.process_time()
            if kind == "sql":
                floor(practice, month)
            else:
                # A run killed mid-build leaves its export running (one per month and kind).
                PreparedExport.objects.for_practice(practice).filter(
                    status__in=["pending", "running"]
                ).delete()
                prepared = PreparedExport.objects.for_practice(practice).create(
                    practice=practice, month=month, kind=kind, requested_by=biller
                )
                done = exports.export_prepare(practice_id=practice.pk, export_id=prepared.pk)
                assert done.status == "ready", done.error
            times[kind].append(time.perf_counter() - start)
            cpus[kind].append(time.process_time() - cpu)
        print("  round: " + ", ".join(f"{k} {v[-1]:.2f} s (cpu {cpus[k][-1]:.2f})"
                                      for k, v in times.items())
              + f" (load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    sql, csv_, pdf = (statistics.median(times[k]) for k in ("sql", "csv", "pdf"))
    print(
        f"  median: SQL {sql:.3f} s, CSV {csv_:.2f} s ({csv_ / sql:.0f}x SQL), "
        f"PDF {pdf:.2f} s ({pdf / sql:.0f}x SQL, {pdf / csv_:.1f}x CSV; "
        f"target <= {PDF_TARGET:.0f} s)"
    )
    print(f"  median cpu of this process: CSV {statistics.median(cpus['csv']):.2f} s, "
          f"PDF {statistics.median(cpus['pdf']):.2f} s")  # fmt: skip


def run(claims_wanted: int, reuse: bool, only: str) -> None:
    practice, month, biller = seeded() if reuse else seed(claims_wanted)
    with practice_scope(practice):
        if only == "seed":
            return
        if only == "pdf":
            pdf_only(practice, month, biller)
            pdf_phases(practice, month)
        elif hasattr(exports, "export_request"):
            worker(practice, month, biller)
            requests_prepared(practice, month, biller)
            pdf_phases(practice, month)
        else:
            requests_direct(practice, month, biller)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("claims", nargs="?", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="leave the database for --reuse")
    parser.add_argument("--reuse", action="store_true", help="the database a --keep run left")
    parser.add_argument("--only", choices=("all", "pdf", "seed"), default="all",
                        help="pdf: the PDF next to the CSV and SQL, and its phases")  # fmt: skip
    args = parser.parse_args()
    old_name = connection.settings_dict["NAME"]
    bench_name = f"{old_name}_bench_exports"
    if args.reuse:
        connection.close()
        connection.settings_dict["NAME"] = bench_name
    else:
        connection.settings_dict["TEST"]["NAME"] = bench_name
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(args.claims, args.reuse, args.only)
    finally:
        if not (args.keep or args.reuse):
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
