"""The pages of the CSV import pipeline (`ccm.csv_import`): the upload form, the upload page
(preview on POST) and the import's page (apply on POST). Each app's views keep their URL,
decorators, template and the few facts only their page shows; templates extend
`csv_import/upload.html` and `csv_import/detail.html`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render

from ccm import csv_import
from ccm.forms import attach_errors
from ccm.tenancy import PracticeRequest


class UploadForm(forms.Form):
    """An import's upload: subclasses name the file (label, help text)."""

    file = forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # Refused before reading it into memory.
        if upload.size is not None and upload.size > settings.PATIENT_IMPORT_MAX_BYTES:
            raise forms.ValidationError(csv_import.too_big_message())
        return upload


def upload_page(
    request: PracticeRequest,
    kind: csv_import.ImportKind[Any],
    form: UploadForm,
    *,
    template: str,
    detail: str,
    context: dict[str, Any],
) -> HttpResponse:
    """GET: the form and the recent imports; POST: preview the file and go to its page
    (`detail`, a URL name taking the import's id), or show the file's problems (400)."""
    if request.method == "POST" and form.is_valid():
        try:
            record = csv_import.preview(
                kind,
                practice=request.practice,
                actor=request.membership,
                content=form.cleaned_data["file"].read(),
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            return redirect(detail, record.pk)
    recent = csv_import.recent(kind, request.practice)
    page = {"form": form, "recent": recent, "detail": detail, **context}
    return render(request, template, page, status=400 if form.errors else 200)


def detail_page(
    request: PracticeRequest,
    kind: csv_import.ImportKind[Any],
    record: csv_import.ImportRecord,
    *,
    template: str,
    detail: str,
    context: Callable[[Any], dict[str, Any]],
) -> HttpResponse:
    """GET: the preview or result with the rows' errors; POST: apply it (its problems are
    flashed) and show it again. `context` gives the facts only this app's page shows."""
    if request.method == "POST":
        try:
            record = csv_import.apply(
                kind, practice=request.practice, actor=request.membership, record=record
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        # The applied page states the result itself (no flash message repeating it).
        return redirect(detail, record.pk)
    return render(request, template, {**detail_context(kind, record), **context(record)})


def detail_context(kind: csv_import.ImportKind[Any], record: Any) -> dict[str, Any]:
    labels = kind.labels
    return {
        "record": record,
        "applied": record.state == csv_import.ImportRecord.State.APPLIED,
        "uploader": record.uploaded_by.user,
        "errors": [{**e, "label": labels.get(e["field"], e["field"])} for e in record.errors],
        "invalid_count": record.row_count - record.valid_count,
        "errors_capped": len(record.errors) >= csv_import.MAX_STORED_ERRORS,
    }
