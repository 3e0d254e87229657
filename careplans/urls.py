from django.urls import path

from careplans import transition_urls, views

app_name = "careplans"

urlpatterns = [
    path("queue/", views.signing_queue, name="signing-queue"),
    path("templates/", views.template_list, name="template-list"),
    path("templates/<uuid:template_id>/", views.template_edit, name="template-edit"),
    path("patient/<uuid:patient_id>/start/", views.draft_start, name="draft-start"),
    path("<uuid:version_id>/", views.version_detail, name="version-detail"),
    path("<uuid:version_id>/edit/", views.version_edit, name="version-edit"),
    path("<uuid:version_id>/row/<slug:section>/", views.editor_row, name="editor-row"),
    path("<uuid:version_id>/submit/", views.version_submit, name="version-submit"),
    path("<uuid:version_id>/discard/", views.version_discard, name="version-discard"),
    path("<uuid:version_id>/sign/", views.version_sign, name="version-sign"),
    path("<uuid:version_id>/copy/", views.copy_record, name="copy-new"),
    path("<uuid:version_id>/pdf/", views.version_pdf, name="version-pdf"),
    path("<uuid:version_id>/diff/", views.version_diff, name="version-diff"),
    *transition_urls.urlpatterns,
]
