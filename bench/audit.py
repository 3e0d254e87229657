"""What the audit write costs a request: requests/s of pages that audit, with and without it.

Each page is served in-process (warm) by the demo coordinator, as is and with the audit writes
(`ccm.audit.record` and the bulk insert behind `read_many`) replaced by no-ops, alternating
request by request (so both see the same machine load), 3 runs of N requests each; the
medians of requests/s and their ratio are printed. The bound
(issue 14): audit writes keep request throughput within 20% (ratio ≥ 0.80). Also the cost of
one `audit.record()` insert on its own. Uses the demo data (`seed_demo`) in the dev database
or DATABASE_URL's.
"""

import statistics
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import _common

from ccm import audit
from ccm.models import AuditEvent, Membership
from ccm.tenancy import practice_scope
from patients.models import Patient

N = 100
RUNS = 3
BOUND = 0.80


def _no_record(**kwargs: Any) -> AuditEvent:
    return AuditEvent()


def _no_bulk(membership: Any, pairs: Any, *, action: str, changed_fields: Any = ()) -> int:
    return len(list(pairs))


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def compare(label: str, call: Callable[[], Any]) -> float:
    """Requests alternate one by one between the two modes, so both see the same load."""
    no_audit = (
        mock.patch.object(audit, "record", _no_record),
        mock.patch.object(audit, "record_many", _no_bulk),
    )
    call()  # warm-up
    with_audit, without = [], []
    for _ in range(RUNS):
        audited_s = reference_s = 0.0
        for _ in range(N):
            audited_s += _timed(call)
            with no_audit[0], no_audit[1]:
                reference_s += _timed(call)
        with_audit.append(N / audited_s)
        without.append(N / reference_s)
    audited, reference = statistics.median(with_audit), statistics.median(without)
    ratio = audited / reference
    print(
        f"{label:<36} audited {audited:6.1f} req/s   without audit write {reference:6.1f} req/s"
        f"   ratio {ratio:.3f}   cost {100 * (1 - ratio):4.1f}%"
    )
    return ratio


def insert_cost(coordinator: Membership) -> None:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(N):
            audit.record_for(coordinator, "patient.read", object_type="patients.patient")
        times.append((time.perf_counter() - start) * 1000 / N)
    print(f"{'one audit.record() insert':<36} {statistics.median(times):.3f} ms (median of {RUNS})")


def main() -> None:
    coordinator, browser, api = _common.demo_coordinator()
    with practice_scope(coordinator.practice):
        patient = Patient.objects.order_by("last_name").first()
        assert patient is not None, "seed_demo made no patients"
    print(f"== {RUNS} runs of {N} requests each (in-process, warm), medians; bound ratio ≥ {BOUND}")
    ratios = [
        compare("GET chart /patients/<id>/", lambda: browser.get(f"/patients/{patient.pk}/")),
        compare("GET list /patients/ (one per row)", lambda: browser.get("/patients/")),
        compare(
            "GET /api/v1/patients/<id>/ (token)", lambda: api.get(f"/api/v1/patients/{patient.pk}/")
        ),
    ]
    insert_cost(coordinator)
    worst = min(ratios)
    print(f"worst ratio {worst:.3f}: {'within' if worst >= BOUND else 'OVER'} the 20% bound")


if __name__ == "__main__":
    main()
