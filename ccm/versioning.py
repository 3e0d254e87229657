"""Versions of editable records, so a concurrent edit is refused instead of silently lost.

One mechanism for the API and one for pages, both derived from what the client saw:
- API: the ETag is a hash of the object's JSON representation (what GET answers); `ccm.api.ApiView`
  compares If-Match with it under the write's row lock.
- Pages: an edit form carries a hidden `version`, the hash of the values it was opened with;
  `unchanged_since_opened` recomputes them from the locked row before the save and refuses a
  stale submit with STALE_MESSAGE, saving nothing.
A version changes whenever what the client sees changes, whoever wrote it (no column to bump).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import QueryDict

STALE_MESSAGE = "This record was changed by someone else since you opened it."
VERSION_FIELD = "version"


class _Encoder(DjangoJSONEncoder):
    """Dates, decimals, UUIDs as DjangoJSONEncoder; any other value (a PhoneNumber of a form's
    initial, say) by its text, as a page shows it."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _digest(data: Any) -> str:
    text = json.dumps(data, cls=_Encoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def etag_of(data: Any) -> str:
    """A strong ETag (quoted) of an API representation."""
    return f'"{_digest(data)}"'


def version_of(values: Mapping[str, Any]) -> str:
    """The version of the values an edit form shows (its `initial`, without the version)."""
    return _digest({k: v for k, v in values.items() if k != VERSION_FIELD})


class VersionedFormMixin(forms.Form):
    """Adds the hidden version of the values the form was opened with (from `initial`)."""

    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.initial:
            self.initial[VERSION_FIELD] = version_of(self.initial)

    def cleaned_values(self) -> dict[str, Any]:
        """The cleaned input without the version (what a service takes), after is_valid()."""
        return {k: v for k, v in self.cleaned_data.items() if k != VERSION_FIELD}


def check_unchanged(form: forms.Form, values: Mapping[str, Any]) -> None:
    """Raise ValidationError(STALE_MESSAGE) unless `values` (the form's initial values, read
    from the row the caller has locked in its own transaction) still have the version the
    form was opened with. A submit without a version (an old page) is not checked."""
    opened = form.cleaned_data.get(VERSION_FIELD) if hasattr(form, "cleaned_data") else ""
    if opened and version_of(values) != opened:
        # The page comes back with the input kept and the current version: a second
        # submit, after a look at the record, is a deliberate overwrite.
        data: Any = form.data.copy() if isinstance(form.data, QueryDict) else dict(form.data)
        data[form.add_prefix(VERSION_FIELD)] = version_of(values)
        form.data = data
        raise ValidationError(STALE_MESSAGE)


@contextlib.contextmanager
def unchanged_since_opened(
    form: forms.Form, current: Callable[[], Mapping[str, Any]]
) -> Iterator[None]:
    """Run the block (the save) in one transaction, after `current()` (which locks the row
    the save locks first and returns the form's initial values from it) still has the
    version the form was opened with; otherwise raise ValidationError(STALE_MESSAGE) and
    save nothing. A submit without a version (an old page) is not checked."""
    with transaction.atomic():
        check_unchanged(form, current())
        yield
