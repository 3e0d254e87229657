"""Small files and contacts for the care transition tests."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from patients.models import CareContact

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def pdf(name: str = "summary.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def fake_pdf() -> SimpleUploadedFile:
    """An HTML page sent as a PDF: the name and content type lie, the bytes do not."""
    html = b"<html><script>alert(1)</script></html>"
    return SimpleUploadedFile("summary.pdf", html, content_type="application/pdf")


def specialist(patient, name: str = "Dr. Hart") -> CareContact:
    return CareContact.objects.for_practice(patient.practice).create(
        practice=patient.practice,
        patient=patient,
        category="practitioner",
        name=name,
        role="Cardiologist",
    )
