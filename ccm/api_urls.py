"""Every API route, in one place (/api/…)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing.claims import apis as claim_apis
from billing.close import apis as close_apis
from billing.exports import api_urls as exports_api_urls
from billing.exports import apis as export_apis
from billing.facts import api_urls as facts_api_urls
from billing.fees import api_urls as settings_api_urls
from billing.remittances import api_urls as remittance_api_urls
from billing.setup import api_urls as setup_api_urls
from billing.submissions import api_urls as submissions_api_urls
from careplans import apis as plan_apis
from careplans import transition_urls
from ccm import apis
from patients import apis as patient_apis
from patients import careteam_urls, coverage_urls, medication_urls
from timelog import apis as time_apis
from timelog import contact_urls, summary_urls

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("v1/me/", apis.MeApi.as_view(), name="me"),
    path("v1/audit-events/", apis.AuditEventListApi.as_view(), name="audit-event-list"),
    path("v1/patients/", patient_apis.PatientListApi.as_view(), name="patient-list"),
    path(
        "v1/patients/<uuid:patient_id>/",
        patient_apis.PatientDetailApi.as_view(),
        name="patient-detail",
    ),
    path(
        "v1/patients/<uuid:patient_id>/consent/",
        patient_apis.PatientConsentApi.as_view(),
        name="patient-consent",
    ),
    path(
        "v1/patients/<uuid:patient_id>/consent/revoke/",
        patient_apis.PatientConsentRevokeApi.as_view(),
        name="patient-consent-revoke",
    ),
    path(
        "v1/patients/<uuid:patient_id>/enroll/",
        patient_apis.PatientEnrollApi.as_view(),
        name="patient-enroll",
    ),
    path(
        "v1/patients/<uuid:patient_id>/fhir/",
        patient_apis.PatientFhirApi.as_view(),
        name="patient-fhir",
    ),
    path(
        "v1/patients/<uuid:patient_id>/care-plans/",
        plan_apis.PatientCarePlanListApi.as_view(),
        name="patient-care-plans",
    ),
    path(
        "v1/care-plans/<uuid:version_id>/", plan_apis.CarePlanDetailApi.as_view(), name="care-plan"
    ),
    path(
        "v1/care-plans/<uuid:version_id>/submit/",
        plan_apis.CarePlanSubmitApi.as_view(),
        name="care-plan-submit",
    ),
    path(
        "v1/care-plans/<uuid:version_id>/sign/",
        plan_apis.CarePlanSignApi.as_view(),
        name="care-plan-sign",
    ),
    path(
        "v1/care-plans/<uuid:version_id>/copies/",
        plan_apis.CarePlanCopyApi.as_view(),
        name="care-plan-copies",
    ),
    path(
        "v1/care-plans/<uuid:version_id>/pdf/",
        plan_apis.CarePlanPdfApi.as_view(),
        name="care-plan-pdf",
    ),
    path("v1/time-entries/", time_apis.TimeEntryListApi.as_view(), name="time-entry-list"),
    path(
        "v1/time-entries/<uuid:entry_id>/",
        time_apis.TimeEntryDetailApi.as_view(),
        name="time-entry-detail",
    ),
    path("v1/worklist/", time_apis.WorklistApi.as_view(), name="worklist"),
    path("v1/tasks/", time_apis.TaskListApi.as_view(), name="task-list"),
    path("v1/tasks/<uuid:task_id>/", time_apis.TaskDetailApi.as_view(), name="task-detail"),
    path(
        "v1/billing/months/<str:month>/",
        close_apis.BillingMonthApi.as_view(),
        name="billing-month",
    ),
    path(
        "v1/billing/months/<str:month>/close/",
        close_apis.BillingMonthCloseApi.as_view(),
        name="billing-month-close",
    ),
    path(
        "v1/billing/months/<str:month>/claims/",
        claim_apis.BillingMonthClaimsApi.as_view(),
        name="billing-month-claims",
    ),
]

_month = "v1/billing/months/<str:month>/"
urlpatterns += [
    path(
        f"{_month}reopen/",
        close_apis.BillingMonthReopenApi.as_view(),
        name="billing-month-reopen",
    ),
    path(
        f"{_month}submitted-changes/",
        close_apis.SubmittedChangesApi.as_view(),
        name="billing-month-submitted-changes",
    ),
    path(f"{_month}check/", close_apis.PrecloseCheckApi.as_view(), name="billing-month-check"),
    path(
        f"{_month}not-billable/",
        claim_apis.NotBillableApi.as_view(),
        name="billing-month-not-billable",
    ),
    path(
        f"{_month}claims/status/",
        claim_apis.ClaimStatusBulkApi.as_view(),
        name="billing-month-claims-status",
    ),
    path(f"{_month}export.csv", export_apis.ExportCsvApi.as_view(), name="billing-export-csv"),
    path(f"{_month}export.837", export_apis.Export837Api.as_view(), name="billing-export-837"),
    path(f"{_month}export.pdf", export_apis.ExportPdfApi.as_view(), name="billing-export-pdf"),
    path("v1/claims/<uuid:claim_id>/", claim_apis.ClaimStatusApi.as_view(), name="claim-detail"),
]
urlpatterns += [*facts_api_urls.urlpatterns, *settings_api_urls.urlpatterns]
urlpatterns += submissions_api_urls.urlpatterns
urlpatterns += exports_api_urls.urlpatterns
urlpatterns += remittance_api_urls.urlpatterns
urlpatterns += setup_api_urls.urlpatterns
urlpatterns += coverage_urls.api_urlpatterns
urlpatterns += transition_urls.api_urlpatterns
urlpatterns += medication_urls.api_urlpatterns
urlpatterns += careteam_urls.api_urlpatterns
urlpatterns += contact_urls.api_urlpatterns
urlpatterns += summary_urls.api_urlpatterns
