"""Steps every app's pages share: who may open a page (`page`), a posted form handed to a
service (`submit`), the success message with its redirect (`done`), a form's page (`form_page`).

`submit` is the one place a page catches a service's refusal of a posted form: the refusal is
shown on the form through `ccm.forms.attach_errors` (the one error renderer), never spelled by
the view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ccm.forms import attach_errors
from ccm.months import month_label, next_month, previous_month
from ccm.roles import Capability, require
from ccm.tenancy import ROLE_FORBIDDEN_MESSAGE, PracticeRequest, capability_required
from ccm.versioning import unchanged_since_opened

Refusals = tuple[type[Exception], ...]
V = TypeVar("V", bound=Callable[..., Any])


def page(capability: Capability, *methods: str) -> Callable[[V], V]:
    """A page's access, checked in this order: signed in (else the sign-in page), one of the
    HTTP `methods` (405; any method when none are named), then a membership holding
    `capability` (403, ccm.roles)."""

    def decorator(view: V) -> V:
        guarded = capability_required(capability)(view)
        if methods:
            guarded = require_http_methods(list(methods))(guarded)
        return cast(V, login_required(guarded))

    return decorator


# Sec-Fetch-Site values of a request the user made here: from this site, or typed / bookmarked.
OWN_SITE = frozenset({"same-origin", "none"})


def from_another_site(request: HttpRequest) -> bool:
    """A browser request another site started (a link, an image, a form there): the
    browser says so in Sec-Fetch-Site. A GET that changes state (export.837 creates the
    month's batch) refuses it for a session, the way CSRF protects a POST."""
    site = request.headers.get("Sec-Fetch-Site")
    return site is not None and site not in OWN_SITE


@dataclass(frozen=True)
class Submission:
    """What became of a posted form: saved (with the service's `result`), or not: the form is
    invalid, or the service refused (`refusal`, now shown on the form). True when saved."""

    saved: bool
    result: Any = None
    refusal: Exception | None = None

    def __bool__(self) -> bool:
        return self.saved

    def refused_by(self, kind: type[Exception]) -> bool:
        return isinstance(self.refusal, kind)


def submit(
    form: forms.BaseForm,
    save: Callable[[], Any],
    *,
    refused: Refusals = (ValidationError,),
    opened: Callable[[], Any] | None = None,
    attach: Callable[[Any, Any], None] = attach_errors,
) -> Submission:
    """Run `save` (the service call, reading `form.cleaned_data`) when the form is valid.

    `refused` are the refusals the page shows on the form (others propagate); `opened`, for a
    versioned form, returns the record's current initial values (ccm.versioning: a stale form
    saves nothing); `attach` adapts a refusal to the form's fields, through attach_errors."""
    if not form.is_valid():
        return Submission(saved=False)
    guard = unchanged_since_opened(cast(forms.Form, form), opened) if opened else nullcontext()
    try:
        with guard:
            result = save()
    except refused as exc:
        attach(form, exc)
        return Submission(saved=False, refusal=exc)
    return Submission(saved=True, result=result)


def form_page(
    request: HttpRequest, template: str, form: forms.BaseForm, **context: Any
) -> HttpResponse:
    """A page showing `form`: 400 when it shows errors (a post refused or invalid), else 200."""
    status = 400 if form.errors else 200
    return render(request, template, {"form": form, **context}, status=status)


def writers_only(request: PracticeRequest, capability: Capability) -> None:
    """A page every reader sees: its POST is for the members holding `capability` (403)."""
    if request.method == "POST":
        require(request.membership, capability, ROLE_FORBIDDEN_MESSAGE)


def month_links(month: dt.date) -> dict[str, Any]:
    """The month a page shows and its neighbours, under the names the month links use."""
    return {
        "month": month,
        "month_label": month_label(month),
        "previous": month_label(previous_month(month)),
        "next": month_label(next_month(month)),
    }


def acting(request: PracticeRequest, **on: Any) -> dict[str, Any]:
    """The arguments every service takes first: the practice, the member acting, and what the
    action is on (e.g. `patient=`)."""
    return {"practice": request.practice, "actor": request.membership, **on}


def save_form(
    request: PracticeRequest,
    form: forms.BaseForm,
    service: Callable[..., Any],
    /,
    *,
    refused: Refusals = (ValidationError,),
    **on: Any,
) -> Submission:
    """`submit` for a form whose fields are the service's arguments: the member acts on `on`
    (e.g. `patient=`) with the form's cleaned data."""
    return submit(
        form, lambda: service(**acting(request, **on), **form.cleaned_data), refused=refused
    )


def done(request: HttpRequest, message: str, to: str, *args: Any, **kwargs: Any) -> HttpResponse:
    """The success message, then the redirect (`to` and its arguments as for `redirect`)."""
    messages.success(request, message)
    return redirect(to, *args, **kwargs)
