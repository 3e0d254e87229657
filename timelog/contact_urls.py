"""Routes of contact attempts: pages (spliced into timelog/urls.py) and the API
(`api_urlpatterns`, added in ccm/api_urls.py)."""

from django.urls import path

from timelog import contact_apis, contact_views

urlpatterns = [
    path(
        "patients/<uuid:patient_id>/contact-attempts/new/",
        contact_views.contact_new,
        name="contact-new",
    ),
]
api_urlpatterns = [
    path(
        "v1/patients/<uuid:patient_id>/contact-attempts/",
        contact_apis.PatientContactAttemptListApi.as_view(),
        name="patient-contact-attempts",
    ),
]
