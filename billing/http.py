"""What billing's pages and API share: the month of a page URL and the download of an
export file."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse

from billing.exports.services import ExportFile
from ccm.months import parse_month

Download = HttpResponse | StreamingHttpResponse


def month_or_404(text: str) -> dt.date:
    """The month of a page URL; a malformed one is a missing page (the API answers 400)."""
    try:
        return parse_month(text)
    except ValidationError:
        raise Http404("No such month.") from None


def download(file: ExportFile) -> Download:
    """The export as an attachment (the CSV and stored files stream; no PHI in the file
    name)."""
    response: Download
    if hasattr(file.content, "read"):  # a stored file (a prepared export): sent in blocks
        response = FileResponse(file.content, content_type=file.content_type)
    elif file.streamed:
        response = StreamingHttpResponse(file.content, content_type=file.content_type)
    else:
        response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.name}"'
    return response
