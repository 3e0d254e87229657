from django.urls import path

from patients import careteam_urls, coverage_urls, medication_urls, views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="patient-list"),
    path("new/", views.patient_new, name="patient-new"),
    path("import/", views.import_upload, name="import-upload"),
    path("import/<uuid:import_id>/", views.import_detail, name="import-detail"),
    path("<uuid:patient_id>/", views.patient_detail, name="patient-detail"),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="patient-edit"),
    path("<uuid:patient_id>/conditions/", views.condition_add, name="condition-add"),
    path(
        "<uuid:patient_id>/conditions/<uuid:condition_id>/resolve/",
        views.condition_resolve,
        name="condition-resolve",
    ),
    path("<uuid:patient_id>/consent/", views.consent_new, name="consent-new"),
    path(
        "<uuid:patient_id>/consent/<uuid:consent_id>/revoke/",
        views.consent_revoke,
        name="consent-revoke",
    ),
    path(
        "<uuid:patient_id>/consent/<uuid:consent_id>/form/",
        views.consent_form_file,
        name="consent-form",
    ),
    *[
        path(
            f"<uuid:patient_id>/{action}/",
            views.patient_transition,
            {"action": action},
            name=f"patient-{action}",
        )
        for action in ("enroll", "decline")
    ],
    path("<uuid:patient_id>/disenroll/", views.patient_disenroll, name="patient-disenroll"),
    *coverage_urls.urlpatterns,
    *medication_urls.urlpatterns,
    *careteam_urls.urlpatterns,
]
