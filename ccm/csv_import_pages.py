"""The pages of the CSV import pipeline (`ccm.csv_import`): the upload form, the upload page
(preview on POST) and the import's page (apply on POST). An app's views keep their URLs and
decorators and hand over to its `ImportPages`; its templates extend `csv_import/upload.html`
and `csv_import/detail.html`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render

from ccm import csv_import
from ccm.forms import flash_error
from ccm.pages import form_page, page, submit
from ccm.roles import Capability
from ccm.tenancy import PracticeRequest, get_for_practice_or_404

View = Callable[..., HttpResponse]


class UploadForm(forms.Form):
    """An import's upload: subclasses name the file (label, help text)."""

    file = forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # Refused before reading it into memory.
        if upload.size is not None and upload.size > settings.PATIENT_IMPORT_MAX_BYTES:
            raise forms.ValidationError(csv_import.too_big_message())
        return upload


def _nothing(*_args: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ImportPages:
    """An app's two import pages: `templates` is the folder holding its import_upload.html
    and import_detail.html, `detail` the URL name of an import's page (taking its id); the
    extras give the facts only this app's pages show."""

    kind: csv_import.AnyKind
    form: type[UploadForm]
    templates: str
    detail: str
    upload_extra: Callable[[], dict[str, Any]] = field(default=_nothing)
    detail_extra: Callable[[Any], dict[str, Any]] = field(default=_nothing)

    def upload(self, request: PracticeRequest) -> HttpResponse:
        """GET: the form and the recent imports; POST: preview the file and go to its page,
        or show the file's problems (400)."""
        form = self.form(request.POST or None, request.FILES or None)
        saved = request.method == "POST" and submit(
            form,
            lambda: self.kind.preview(
                practice=request.practice,
                actor=request.membership,
                content=form.cleaned_data["file"].read(),
            ),
        )
        if saved:
            return redirect(self.detail, saved.result.pk)
        recent = self.kind.recent(request.practice)
        context = {"recent": recent, "detail": self.detail, **self.upload_extra()}
        return form_page(request, f"{self.templates}/import_upload.html", form, **context)

    def show(self, request: PracticeRequest, record: csv_import.ImportRecord) -> HttpResponse:
        """GET: the preview or result with the rows' errors; POST: apply it (its problems
        are flashed) and show it again."""
        if request.method == "POST":
            try:
                record = self.kind.apply(
                    practice=request.practice, actor=request.membership, record=record
                )
            except ValidationError as exc:
                flash_error(request, exc, each=True)
            # The applied page states the result itself (no flash message repeating it).
            return redirect(self.detail, record.pk)
        context = {**self._detail_context(record), **self.detail_extra(record)}
        return render(request, f"{self.templates}/import_detail.html", context)

    def views(self, capability: Capability, *, id_name: str) -> tuple[View, View]:
        """The app's upload and import views (GET and POST, for members holding
        `capability`); `id_name` is the import id's name in the import page's URL."""

        def import_upload(request: PracticeRequest) -> HttpResponse:
            return self.upload(request)

        def import_detail(request: PracticeRequest, **url: str) -> HttpResponse:
            model = self.kind.model
            return self.show(
                request, get_for_practice_or_404(model, request.practice, url[id_name])
            )

        guard = page(capability, "GET", "POST")
        return guard(import_upload), guard(import_detail)

    def _detail_context(self, record: Any) -> dict[str, Any]:
        labels = self.kind.labels
        return {
            "record": record,
            "applied": record.state == csv_import.ImportRecord.State.APPLIED,
            "uploader": record.uploaded_by.user,
            "errors": [{**e, "label": labels.get(e["field"], e["field"])} for e in record.errors],
            "invalid_count": record.row_count - record.valid_count,
            "errors_capped": len(record.errors) >= csv_import.MAX_STORED_ERRORS,
        }
