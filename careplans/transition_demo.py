"""Demo care transitions (seed_demo): in the demo practice, a few hospital discharges, an ED
visit and a specialist visit in recent months, recorded through the service so each has its
follow-up tasks (timelog/transition_demo.py closes the older ones' tasks). Deterministic; a
re-run adds nothing once the practice has transitions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from careplans.models import CareTransition, TransitionKind
from careplans.transition_services import transition_record
from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from ccm.tenancy import practice_scope
from patients.careteam_selectors import care_contacts
from patients.models import ContactCategory, Patient, Status


@dataclass(frozen=True)
class DemoTransition:
    patient_index: int  # among the enrolled patients, by MRN
    kind: str
    days_ago: int
    stay_days: int | None
    facility: str
    diagnoses: str
    note: str
    summary: bool = False


TRANSITIONS = (
    DemoTransition(
        1,
        TransitionKind.HOSPITAL_DISCHARGE,
        2,
        4,
        "Mercy General Hospital",
        "Acute on chronic systolic heart failure (I50.23)",
        "Furosemide increased to 40 mg twice daily; daily weights; cardiology in 2 weeks.",
        summary=True,
    ),
    DemoTransition(
        4,
        TransitionKind.HOSPITAL_DISCHARGE,
        38,
        6,
        "St. Luke's Medical Center",
        "Community-acquired pneumonia; COPD exacerbation (J44.1)",
        "Prednisone taper for 5 days; new albuterol inhaler; follow up with pulmonology.",
    ),
    DemoTransition(
        7,
        TransitionKind.SNF_DISCHARGE,
        20,
        18,
        "Maple Grove Rehabilitation",
        "Rehabilitation after hip fracture repair",
        "Home health PT three times a week; walker at all times; fall precautions.",
    ),
    DemoTransition(
        10,
        TransitionKind.ED_VISIT,
        9,
        None,
        "Mercy General Emergency Department",
        "Hypoglycaemia (E11.649)",
        "Glipizide stopped; blood sugar log twice a day; call if below 70.",
    ),
    DemoTransition(
        13,
        TransitionKind.SPECIALIST_VISIT,
        15,
        None,
        "Riverside Cardiology",
        "Atrial fibrillation, rate controlled",
        "Continue apixaban; echo in 3 months; no change to metoprolol.",
    ),
)


def demo_summary_pdf() -> bytes:
    """A one-line PDF standing in for a scanned discharge summary."""
    text = b"BT /F1 14 Tf 72 720 Td (Discharge summary - demo document, no real patient) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def seed_transitions(*, practice: Practice, recorder: Membership) -> int:
    """The demo transitions, each with its follow-up tasks. Returns how many were added."""
    if CareTransition.objects.for_practice(practice).exists():
        return 0
    patients = list(
        Patient.objects.for_practice(practice).filter(status=Status.ENROLLED).order_by("mrn")
    )
    today = practice.today()
    added = 0
    for spec in TRANSITIONS:
        if spec.patient_index >= len(patients):
            continue
        patient = patients[spec.patient_index]
        occurred_on = today - dt.timedelta(days=spec.days_ago)
        admitted_on = occurred_on - dt.timedelta(days=spec.stay_days) if spec.stay_days else None
        contact = None
        if spec.kind == TransitionKind.SPECIALIST_VISIT:
            contact = care_contacts(
                practice=practice, patient_id=patient.pk, categories=[ContactCategory.PRACTITIONER]
            ).first()
        summary = SimpleUploadedFile("summary.pdf", demo_summary_pdf()) if spec.summary else None
        transition_record(
            practice=practice, actor=recorder, patient=patient, kind=spec.kind,
            occurred_on=occurred_on, admitted_on=admitted_on, facility=spec.facility,
            diagnoses=spec.diagnoses, contact=contact, note=spec.note, document=summary,
        )  # fmt: skip
        added += 1
    return added


def seed(demo: DemoSeed) -> None:
    """`seed_demo`'s care transitions (careplans/demo.py)."""
    practice = demo.practices["demo"]
    with practice_scope(practice):
        demo.added["care transitions"] += seed_transitions(
            practice=practice, recorder=demo.memberships["coordinator@demo.test"]
        )
