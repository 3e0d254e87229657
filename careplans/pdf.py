"""The patient's copy of a care plan as a PDF (WeasyPrint): plain language, large print,
the practice's name and its 24/7 number. Rendering one plan takes well under a second
(bench/careplan_pdf.py); nothing is stored, the PDF is built per download."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation

from careplans import chart_sections
from careplans import content as plan_content
from careplans.models import CarePlanVersion
from ccm import audit
from ccm.models import Membership, Practice
from patients.language import patient_locale


def render_pdf(*, practice: Practice, version: CarePlanVersion) -> bytes:
    """PDF bytes of one version for the patient, in the patient's language (no side
    effects): the fixed text is translated, what the care team wrote stays as written."""
    from weasyprint import HTML  # heavy (Pango, fonts): loaded only when a PDF is asked for

    # A signed version's chart sections as of its signing; a draft's from the chart now.
    content = chart_sections.content_of(version)
    # The goals have their own table: every other section is a list.
    sections = [
        section
        for key, section in zip(plan_content.LABELS, plan_content.sections(content), strict=True)
        if key != "goals"
    ]
    with translation.override(patient_locale(version.patient)):
        html = render_to_string(
            "careplans/careplan_pdf.html",
            {
                "practice": practice,
                "version": version,
                "patient": version.patient,
                "sections": sections,
                "goals": version.content.get("goals", []),
                "statuses": plan_content.GOAL_STATUSES,
            },
        )
    return bytes(HTML(string=html).write_pdf())


def download(*, membership: Membership, version: CarePlanVersion) -> HttpResponse:
    """The PDF as an attachment, audited as a read of the patient's plan (pages and API)."""
    body = render_pdf(practice=membership.practice, version=version)
    audit.record_for(membership, "careplanversion.pdf", obj=version, patient_id=version.patient_id)
    response = HttpResponse(body, content_type="application/pdf")
    # The file name carries no PHI: the version's UUID only.
    response["Content-Disposition"] = f'attachment; filename="care-plan-{version.pk}.pdf"'
    return response
