"""The patient copy of a care plan as PDF (WeasyPrint): render time of one plan.

Creates one bench practice with a patient whose plan has every template's goals and
interventions (a long plan: six conditions), signed, once (idempotent). Prints p50/p95 of
the PDF alone and of the whole download request (in-process), and the page count.
"""

import re
import statistics
import subprocess
import time

import _setup
from django.test import Client

from careplans import pdf, services
from careplans.models import CarePlanVersion
from ccm.models import Membership, Practice, Role, User
from ccm.tenancy import practice_scope
from patients import medication_demo
from patients.models import Condition, Patient
from tests.careplans.conftest import COMPLETE

N = 20
CODES = ["E11.9", "I10", "I50.9", "J44.9", "N18.3", "F33.1"]
PASSWORD = "bench-pass-2026"  # noqa: S105 (a local bench user)


def _member(practice: Practice, email: str, role: str, npi: str = "") -> Membership:
    user, created = User.objects.get_or_create(email=email, defaults={"full_name": email})
    if created:
        user.set_password(PASSWORD)
        user.save()
    member, _ = Membership.objects.for_practice(practice).get_or_create(
        practice=practice, user=user, defaults={"role": role, "npi": npi}
    )
    return member


def signed_version() -> tuple[Practice, Membership, CarePlanVersion]:
    practice, _ = Practice.objects.get_or_create(
        slug="pdf-bench",
        defaults={"name": "PDF Bench Clinic", "billing_npi": "1234567893", "phone": "5550100"},
    )
    physician = _member(practice, "physician@pdf.bench", Role.PHYSICIAN, "1679576722")
    coordinator = _member(practice, "coordinator@pdf.bench", Role.COORDINATOR)
    with practice_scope(practice):
        version = CarePlanVersion.objects.filter(status="signed").first()
        if version is not None:
            return practice, coordinator, version
        patient, _ = Patient.objects.get_or_create(
            practice=practice,
            mrn="PDF-1",
            defaults={"first_name": "Bench", "last_name": "Patient", "date_of_birth": "1950-01-01"},
        )
        for position, code in enumerate(CODES):
            Condition.objects.get_or_create(
                practice=practice,
                patient=patient,
                icd10_code=code,
                defaults={"position": position, "description": code},
            )
        services.templates_ensure(practice=practice)
        medication_demo.seed_patient(practice=practice, patient=patient, performer=coordinator)
        draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
        body = {k: v for k, v in COMPLETE.items() if k not in ("goals", "interventions")}
        services.draft_update(practice=practice, actor=coordinator, version=draft, data=body)
        version = services.version_sign(
            practice=practice, actor=physician, version=draft, password=PASSWORD
        )
    return practice, coordinator, version


def _line(label: str, times: list[float]) -> None:
    print(
        f"{label:<40} p50 {statistics.median(times):7.1f} ms   "
        f"p95 {_setup.percentile(times, 0.95):7.1f} ms   (target < 1000 ms)"
    )


def main() -> None:
    practice, coordinator, version = signed_version()
    goals, interventions = len(version.content["goals"]), len(version.content["interventions"])
    body = pdf.render_pdf(practice=practice, version=version)  # warm-up (fonts)
    info = subprocess.run(
        ["pdfinfo", "-"],  # noqa: S607 (poppler-utils, installed by .ci/run)
        input=body,
        capture_output=True,
        check=False,
    ).stdout
    found = re.search(rb"Pages:\s+(\d+)", info)
    pages = found.group(1).decode() if found else "?"
    print(f"== {N} renders; plan with {goals} goals, {interventions} interventions, {pages} pages")
    times = []
    for _ in range(N):
        start = time.perf_counter()
        pdf.render_pdf(practice=practice, version=version)
        times.append((time.perf_counter() - start) * 1000)
    _line("render_pdf (WeasyPrint)", times)
    client = Client()
    client.force_login(coordinator.user)
    times = []
    for _ in range(N):
        start = time.perf_counter()
        response = client.get(f"/care-plans/{version.pk}/pdf/")
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    _line("GET /care-plans/<id>/pdf/ (page)", times)


if __name__ == "__main__":
    main()
