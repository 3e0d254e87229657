"""The after-contact summary as a one-page PDF (WeasyPrint), in the language recorded on the
summary (the patient's when it was written): the fixed text is translated, what the
coordinator wrote stays as written. One page renders in about 0.3 s: built per download in
the request, nothing stored."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation

from ccm import audit
from ccm.models import Membership, Practice
from timelog.models import ContactSummary

# Print sizes tried in turn: the large one unless the text needs more than one page.
FONT_SIZES = ("12pt", "10.5pt", "9pt")


def render_pdf(*, practice: Practice, summary: ContactSummary) -> bytes:
    """PDF bytes of one summary on one page (no side effects)."""
    from weasyprint import HTML  # heavy (Pango, fonts): loaded only when a PDF is asked for

    attempt = summary.contact_attempt
    context = {
        "practice": practice,
        "summary": summary,
        "patient": summary.patient,
        "contacted_on": attempt.occurred_at.astimezone(practice.zone).date(),
        "phone_24_7": practice.after_hours_phone or practice.phone,
        "author": summary.created_by.user,
    }
    for size in FONT_SIZES:
        with translation.override(summary.language):
            html = render_to_string("timelog/summary_pdf.html", {**context, "font_size": size})
        document = HTML(string=html).render()
        # The length limits fit the large print; many short lines may not: print smaller.
        if len(document.pages) == 1:
            break
    return bytes(document.write_pdf())


def download(*, membership: Membership, summary: ContactSummary) -> HttpResponse:
    """The PDF as an attachment, audited as a read of the patient's summary (pages and API)."""
    body = render_pdf(practice=membership.practice, summary=summary)
    audit.record_for(membership, "contactsummary.pdf", obj=summary, patient_id=summary.patient_id)
    response = HttpResponse(body, content_type="application/pdf")
    # The file name carries no PHI: the summary's UUID only.
    response["Content-Disposition"] = f'attachment; filename="summary-{summary.pk}.pdf"'
    return response
