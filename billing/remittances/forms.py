"""The upload form of acknowledgments and remittances (parsing only; the services read,
validate and post the file)."""

from __future__ import annotations

from typing import Any

from django import forms

from billing.remittances import parse


class X12UploadForm(forms.Form):
    file = forms.FileField(
        label="X12 file (999, 277CA or 835)",
        help_text="The file as the clearinghouse or the contractor sent it; its kind is read "
        "from the file. Up to 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".x12,.edi,.txt,.999,.277,.835"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # Refused before reading it into memory.
        if upload.size is not None and upload.size > parse.MAX_BYTES:
            raise forms.ValidationError(parse.TOO_BIG_MESSAGE)
        return upload
