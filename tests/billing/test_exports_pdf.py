"""The month PDF at scale (issue 18, target 5): claims read as plain values (the same values
as the Claim path), a month over PDF_CHUNK claims laid out in chunks joined into one PDF that
still lists every claim under a header on each page, with every page numbered of the right
total; a chunk that overflows its pages falls back to one flowing document; the worker's
progress moves with the chunks."""

import datetime as dt
import shutil
import subprocess
import uuid
from decimal import Decimal

import pytest
import time_machine

from billing.claims.selectors import month_claims
from billing.exports import selectors, services
from billing.models import MonthClose, PreparedExport
from tests.billing import test_exports
from tests.billing.test_month_close import AFTER, OCTOBER

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils missing")

closed = test_exports.closed  # October closed with two claims


@pytest.fixture(autouse=True)
def _later():
    with time_machine.travel(AFTER, tick=False):
        yield


def _text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def _pages(text: str) -> list[str]:
    return text.split("\f")[:-1]  # pdftotext ends every page with a form feed


def _claims(count: int) -> list[selectors.PdfClaim]:
    return [
        selectors.PdfClaim(
            uuid.uuid4(),
            f"Zed{i:04d}",
            "Ann",
            f"SYN-{i:04d}",
            dt.date(1950, 1, 1),
            "Dr Who",
            dt.date(2026, 10, 31),
            "11",
            "99490x1, 99439x1",
            ["I10", "E11.9"],
            Decimal("116.57"),
            "Ready",
        )
        for i in range(count)
    ]


def test_the_pdf_reads_the_same_values_as_the_claims_in_two_queries(
    practice, closed, django_assert_num_queries
):
    with django_assert_num_queries(2):
        rows = selectors.pdf_claims(practice, OCTOBER)
    expected = [selectors.pdf_claim_of(claim) for claim in month_claims(practice, OCTOBER)]
    assert len(rows) == 2
    assert rows == expected
    assert rows[0].lines == "99490x1"
    assert rows[0].status == "Ready"


def test_a_month_over_several_chunks_lists_every_claim_and_numbers_every_page(
    practice, closed, monkeypatch
):
    monkeypatch.setattr(services, "PDF_CHUNK", 100)
    monkeypatch.setattr(services, "PDF_PAGE_ROWS", 20)  # 5 pages to a chunk
    close = MonthClose.objects.for_practice(practice).get(month=OCTOBER)
    claims, done = _claims(250), []
    pdf = services.month_pdf(practice, close, claims, done.append)
    assert done == [100, 200, 250]  # one progress step per chunk
    pages = _pages(_text(pdf))
    assert len(pages) == 1 + 13  # the summary, then 250 claims 20 to a page
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of 14" in page
        assert "CCM claims, October 2026" in page  # the running title
    assert "Totals by code" in pages[0]
    for page in pages[1:]:
        assert "Patient" in page
        assert "Diagnoses" in page
    text = "".join(pages)
    assert all(f"SYN-{i:04d}" in text for i in range(250))
    assert text.count("SYN-") == 250
    assert "SYN-0000" in pages[1]
    assert "SYN-0019" in pages[1]
    assert "SYN-0020" in pages[2]


def test_a_chunk_that_overflows_its_pages_is_built_as_one_document(practice, closed, monkeypatch):
    monkeypatch.setattr(services, "PDF_CHUNK", 100)
    monkeypatch.setattr(services, "PDF_PAGE_ROWS", 90)  # more rows than a page holds
    close = MonthClose.objects.for_practice(practice).get(month=OCTOBER)
    done: list[int] = []
    pdf = services.month_pdf(practice, close, _claims(250), done.append)
    assert done == [250]
    pages = _pages(_text(pdf))
    total = len(pages)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page
    text = "".join(pages)
    assert all(f"SYN-{i:04d}" in text for i in range(250))


def test_the_worker_builds_a_chunked_pdf_with_every_claim_and_its_progress(
    practice, biller, closed, monkeypatch, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/no-public-url/"},
        },
    }
    monkeypatch.setattr(services, "PDF_CHUNK", 1)
    monkeypatch.setattr(services, "PDF_PAGE_ROWS", 1)  # two chunks of one page
    steps = []
    real = services._progress
    monkeypatch.setattr(
        services, "_progress", lambda prepared, **f: (steps.append(f), real(prepared, **f))
    )
    prepared = PreparedExport.objects.for_practice(practice).create(
        practice=practice, month=OCTOBER, kind="pdf", requested_by=biller
    )
    done = services.export_prepare(practice_id=practice.pk, export_id=prepared.pk)
    assert done.status == "ready"
    assert (done.total, done.done) == (2, 2)
    assert {"done": 1} in steps
    assert {"done": 2} in steps
    pages = _pages(_text((tmp_path / done.file.name).read_bytes()))
    assert len(pages) == 3
    assert "Page 3 of 3" in pages[2]
    claims = list(month_claims(practice, OCTOBER))
    assert len(claims) == 2
    for claim in claims:  # each on its own page of the list, once
        assert sum(claim.patient.mrn in page for page in pages[1:]) == 1
    assert sorted(map(str, done.patient_ids)) == sorted(str(c.patient_id) for c in claims)
