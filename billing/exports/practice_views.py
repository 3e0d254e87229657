"""The practice archive's pages (issue 19), for practice admins: the panel on the practice
settings page (loaded there with htmx; without JavaScript, its link leads to the same panel
as a page) with "Prepare archive" and the prepared archives; each one's status (polled while
a worker builds it) and its download (audited)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from billing.exports import practice_selectors as selectors
from billing.exports import practice_services as services
from billing.http import Download, download
from ccm.api_auth import ApplicationError
from ccm.forms import flash_error
from ccm.pages import page
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest

PANEL_ARCHIVES = 5  # the practice's latest archives the panel lists
REQUESTED_MESSAGE = "The archive is being prepared; it will be listed here when it is ready."
SETTINGS_ANCHOR = "#practice-archive"


def _back() -> HttpResponse:
    return redirect(reverse("ccm:practice-settings") + SETTINGS_ANCHOR)


@page(Capability.EXPORT_PRACTICE_DATA, "GET", "POST")
def practice_archives(request: PracticeRequest) -> HttpResponse:
    """GET: the archives panel (the fragment the settings page loads, or a page). POST
    (`format`, default ndjson): prepare one (asking again while one is being prepared gives
    that one), then back to the settings page, where its status shows; an unknown format
    is a 400 page saying so (nothing saved)."""
    if request.method == "POST":
        try:
            services.practice_archive_request(
                actor=request.membership,
                format=request.POST.get("format", services.FORMAT_NDJSON),
            )
        except ValidationError as exc:
            flash_error(request, exc)
            return _panel(request, "billing/practice_archives.html", status=400)
        messages.success(request, REQUESTED_MESSAGE)
        return _back()
    panel = request.headers.get("HX-Request")
    template = "billing/_practice_archives.html" if panel else "billing/practice_archives.html"
    return _panel(request, template)


def _panel(request: PracticeRequest, template: str, status: int = 200) -> HttpResponse:
    context = {
        "archives": selectors.archive_list(practice=request.practice, limit=PANEL_ARCHIVES),
        "days": services.ARCHIVE_DAYS,
        "format": services.FORMAT_NDJSON,
    }
    return render(request, template, context, status=status)


@page(Capability.EXPORT_PRACTICE_DATA, "GET")
def practice_archive_status(request: PracticeRequest, export_id: str) -> HttpResponse:
    """The htmx fragment polled while an archive is prepared (stops once it is not)."""
    archive = selectors.archive_get(practice=request.practice, archive_id=export_id)
    return render(request, "billing/_practice_archive_status.html", {"a": archive})


@page(Capability.EXPORT_PRACTICE_DATA, "GET")
def practice_archive_download(request: PracticeRequest, export_id: str) -> Download:
    """An archive's zip, the download audited; back to the settings page when it is not
    ready or has expired (the message says which)."""
    archive = selectors.archive_get(practice=request.practice, archive_id=export_id)
    try:
        return download(
            services.practice_archive_download(actor=request.membership, archive=archive)
        )
    except ApplicationError as exc:
        flash_error(request, exc)
    return _back()
