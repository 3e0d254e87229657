"""Care plan pages: start a draft, the editor (htmx rows), a version, signing with
re-authentication, the patient's copy (PDF and its record), the diff, the physicians' queue
and the admins' templates (care transitions: careplans/transition_views.py)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from careplans import chart_sections, pdf, selectors, services
from careplans import content as plan_content
from careplans.forms import (
    CopyForm,
    DraftForm,
    DraftStartForm,
    SignForm,
    TemplateForm,
    content_from_post,
)
from careplans.models import CarePlanTemplate, CarePlanVersion
from ccm import audit
from ccm.forms import flash_error
from ccm.pages import acting, done, page, save_form, submit
from ccm.roles import Capability, can
from ccm.tenancy import (
    PracticeRequest,
    get_for_practice_or_404,
    lock_for_practice_or_404,
)
from ccm.versioning import unchanged_since_opened
from patients.models import Patient

BLANK_ROWS = 1  # an empty row per section, so the editor works without JavaScript
COPY_MESSAGE = "Recorded: the patient has a copy."


def _version(request: PracticeRequest, version_id: Any) -> CarePlanVersion:
    return selectors.version_get(practice=request.practice, version_id=version_id)


# --- Drafts ----------------------------------------------------------------------------------


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def draft_start(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = get_for_practice_or_404(Patient, request.practice, patient_id)
    services.templates_ensure(practice=request.practice)
    templates = selectors.template_list(practice=request.practice).filter(is_active=True)
    form = DraftStartForm(request.POST if request.method == "POST" else None, templates=templates)
    if request.method == "POST":
        saved = submit(
            form,
            lambda: services.draft_start(
                **acting(request, patient=patient),
                template_ids=form.cleaned_data["templates"] or None,
            ),
        )
        if saved:
            message = "Draft started. Fill in what is missing, then send it."
            return done(request, message, "careplans:version-edit", saved.result.id)
    status = 400 if request.method == "POST" else 200
    audit.read(request.membership, patient, patient_id=patient.pk)
    context = {"patient": patient, "form": form}
    return render(request, "careplans/draft_start.html", context, status=status)


def _labelled(exc: ValidationError) -> list[str]:
    """Errors named by their section's label (a plain error as it is)."""
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    return [
        f"{plan_content.LABELS.get(key, key)}: {message}"
        for key, errors in exc.message_dict.items()
        for message in errors
    ]


def _editor_rows(version_content: dict[str, Any]) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Each row section's rows with a key for their field names, plus blank rows."""
    rows = {}
    for section, fields in plan_content.ROWS.items():
        existing = version_content.get(section) or []
        blank = [dict.fromkeys(fields, "") for _ in range(BLANK_ROWS)]
        rows[section] = [
            (uuid.uuid4().hex[:8], {f: row.get(f, "") for f in fields})
            for row in [*existing, *blank]
        ]
    return rows


def _draft_initial(version: CarePlanVersion) -> dict[str, Any]:
    return {"content": version.content}


def _lock_draft(request: PracticeRequest, version: CarePlanVersion) -> CarePlanVersion:
    # The row draft_update locks first.
    queryset = CarePlanVersion.objects.for_practice(request.practice)
    return lock_for_practice_or_404(queryset, request.practice, version.pk)


def _editor(
    request: PracticeRequest,
    version: CarePlanVersion,
    data: dict[str, Any],
    form: DraftForm,
    **extra: Any,
) -> HttpResponse:
    chart = chart_sections.from_chart(practice=request.practice, patient_id=version.patient_id)
    context = {
        "form": form,
        "version": version,
        "patient": version.patient,
        "data": data,
        "rows": _editor_rows(data),
        "labels": plan_content.LABELS,
        "statuses": plan_content.GOAL_STATUSES,
        "chart_medications": chart,
        "care_team": {section: chart[section] for section in ("coordination", "caregivers")},
        "gaps": plan_content.missing({**plan_content.clean(data), **chart})
        if not extra.get("errors")
        else [],
        **extra,
    }
    status = 400 if extra.get("errors") else 200
    return render(request, "careplans/version_edit.html", context, status=status)


def _signed_refusal(request: PracticeRequest, version: CarePlanVersion) -> HttpResponse:
    messages.error(request, services.SIGNED_MESSAGE)
    return _detail(request, version, status=409)


@page(Capability.EDIT_CLINICAL, "GET", "POST")
def version_edit(request: PracticeRequest, version_id: str) -> HttpResponse:
    version = _version(request, version_id)
    if not version.is_draft:
        return _signed_refusal(request, version)
    form = DraftForm(request.POST or None, initial=_draft_initial(version))
    if request.method == "GET":
        audit.read(request.membership, version, patient_id=version.patient_id)
        return _editor(request, version, version.content, form)
    data = content_from_post(request.POST)
    try:
        form.full_clean()  # only the version: the content is the service's to validate
        with unchanged_since_opened(form, lambda: _draft_initial(_lock_draft(request, version))):
            version = services.draft_update(
                practice=request.practice, actor=request.membership, version=version, data=data
            )
    except ValidationError as exc:
        return _editor(request, version, data, form, errors=_labelled(exc))
    except services.VersionSigned:
        return _signed_refusal(request, version)
    if request.POST.get("then") == "submit":
        return version_submit(request, str(version.pk))
    messages.success(request, "Draft saved.")
    return redirect("careplans:version-edit", version.id)


@page(Capability.EDIT_CLINICAL, "GET")
def editor_row(request: PracticeRequest, version_id: str, section: str) -> HttpResponse:
    """One blank editor row (htmx appends it to the section's table)."""
    version = _version(request, version_id)
    if section not in plan_content.ROWS or section in plan_content.FROM_CHART:
        raise Http404
    context = {
        "section": section,
        "key": uuid.uuid4().hex[:8],
        "row": dict.fromkeys(plan_content.ROWS[section], ""),
        "statuses": plan_content.GOAL_STATUSES,
        "version": version,
    }
    return render(request, "careplans/editor_row.html", context)


@page(Capability.EDIT_CLINICAL, "POST")
def version_submit(request: PracticeRequest, version_id: str) -> HttpResponse:
    version = _version(request, version_id)
    try:
        services.draft_submit(**acting(request, version=version))
    except ValidationError as exc:
        flash_error(request, exc)
        return redirect("careplans:version-edit", version.id)
    except services.VersionSigned:
        return _signed_refusal(request, version)
    messages.success(request, "Sent to the physicians for signature.")
    return redirect("careplans:version-detail", version.id)


@page(Capability.EDIT_CLINICAL, "POST")
def version_discard(request: PracticeRequest, version_id: str) -> HttpResponse:
    version = _version(request, version_id)
    try:
        services.draft_discard(**acting(request, version=version))
    except services.VersionSigned:
        return _signed_refusal(request, version)
    messages.success(request, "Draft discarded.")
    return redirect("patients:patient-detail", version.patient_id)


# --- A version, signing, the patient's copy --------------------------------------------------


def _detail(
    request: PracticeRequest, version: CarePlanVersion, *, status: int = 200, **extra: Any
) -> HttpResponse:
    audit.read(request.membership, version, patient_id=version.patient_id)
    chart = selectors.chart_plan(practice=request.practice, patient_id=version.patient_id)
    content = chart_sections.content_of(version)
    context = {
        "version": version,
        "patient": version.patient,
        "sections": plan_content.sections(content),
        "gaps": plan_content.missing(content) if version.is_draft else [],
        "is_physician": can(request.membership, Capability.SIGN_CARE_PLANS),
        "clinical": can(request.membership, Capability.EDIT_CLINICAL),
        "sign_form": extra.pop("sign_form", None) or SignForm(),
        "copy_form": extra.pop("copy_form", None)
        or CopyForm(initial={"given_on": request.practice.today(), "method": "in_person"}),
        "copies": [c for c in chart.copies if c.version_id == version.pk],
        "chart": chart,
        **extra,
    }
    return render(request, "careplans/version_detail.html", context, status=status)


@page(Capability.VIEW_PRACTICE, "GET")
def version_detail(request: PracticeRequest, version_id: str) -> HttpResponse:
    return _detail(request, _version(request, version_id))


@page(Capability.EDIT_CLINICAL, "POST")
def version_sign(request: PracticeRequest, version_id: str) -> HttpResponse:
    version = _version(request, version_id)  # another practice's version: 404 before 403
    if not can(request.membership, Capability.SIGN_CARE_PLANS):
        raise PermissionDenied(services.PHYSICIAN_ONLY_MESSAGE)
    form = SignForm(request.POST)
    try:
        saved = save_form(request, form, services.version_sign, version=version)
    except services.VersionSigned:
        return _signed_refusal(request, version)
    if saved:
        message = f"Care plan version {version.number} signed."
        return done(request, message, "careplans:version-detail", version.id)
    return _detail(request, version, status=400, sign_form=form)


@page(Capability.EDIT_CLINICAL, "POST")
def copy_record(request: PracticeRequest, version_id: str) -> HttpResponse:
    version = _version(request, version_id)
    form = CopyForm(request.POST)
    saved = save_form(request, form, services.copy_record, version=version)
    if saved:
        return done(request, COPY_MESSAGE, "careplans:version-detail", version.id)
    return _detail(request, version, status=400, copy_form=form)


@page(Capability.VIEW_PRACTICE, "GET")
def version_pdf(request: PracticeRequest, version_id: str) -> HttpResponse:
    version = _version(request, version_id)
    return pdf.download(membership=request.membership, version=version)


@page(Capability.VIEW_PRACTICE, "GET")
def version_diff(request: PracticeRequest, version_id: str) -> HttpResponse:
    version = _version(request, version_id)
    against_id = request.GET.get("against") or version.based_on_id
    if against_id is None:
        older = (
            selectors.version_list(practice=request.practice, patient_id=version.patient_id)
            .filter(number__lt=version.number)
            .first()
        )
        if older is None:
            raise Http404
        against_id = older.pk
    against = _version(request, against_id)
    if against.patient_id != version.patient_id:
        raise Http404
    audit.read(request.membership, version, patient_id=version.patient_id)
    context = {
        "version": version,
        "against": against,
        "patient": version.patient,
        "diff": selectors.version_diff(against, version),
        "others": selectors.version_list(
            practice=request.practice, patient_id=version.patient_id
        ).exclude(pk=version.pk),
    }
    return render(request, "careplans/version_diff.html", context)


@page(Capability.EDIT_CLINICAL, "GET")
def signing_queue(request: PracticeRequest) -> HttpResponse:
    queue = list(selectors.signing_queue(practice=request.practice))
    audit.read_many(request.membership, [v.patient for v in queue], action="careplan.queue")
    context = {"queue": queue, "is_physician": can(request.membership, Capability.SIGN_CARE_PLANS)}
    return render(request, "careplans/signing_queue.html", context)


# --- Templates (admins) ----------------------------------------------------------------------


@page(Capability.EDIT_CARE_PLAN_TEMPLATES, "GET")
def template_list(request: PracticeRequest) -> HttpResponse:
    services.templates_ensure(practice=request.practice)
    templates = selectors.template_list(practice=request.practice)
    return render(request, "careplans/template_list.html", {"templates": templates})


def _template_now(request: PracticeRequest, template: CarePlanTemplate) -> dict[str, Any]:
    # The row template_update locks first.
    queryset = CarePlanTemplate.objects.all()
    return TemplateForm.initial_for(
        lock_for_practice_or_404(queryset, request.practice, template.pk)
    )


@page(Capability.EDIT_CARE_PLAN_TEMPLATES, "GET", "POST")
def template_edit(request: PracticeRequest, template_id: str) -> HttpResponse:
    template = get_for_practice_or_404(CarePlanTemplate, request.practice, template_id)
    initial = TemplateForm.initial_for(template)
    if request.method == "GET":
        form = TemplateForm(initial=initial)
        return render(request, "careplans/template_form.html", {"form": form, "template": template})
    form = TemplateForm(request.POST, initial=initial)
    saved = submit(
        form,
        lambda: services.template_update(
            practice=request.practice,
            actor=request.membership,
            template=template,
            data=form.service_data(),
        ),
        opened=lambda: _template_now(request, template),
    )
    if saved:
        return done(request, f"Template “{template.name}” saved.", "careplans:template-list")
    context = {"form": form, "template": template}
    return render(request, "careplans/template_form.html", context, status=400)
