from django.urls import include, path

from ccm import views

ccm_patterns = [
    path("home/", views.home, name="home"),
    path("practice/switch/", views.practice_switch, name="practice-switch"),
    path("practice/settings/", views.practice_settings, name="practice-settings"),
    path("practice/members/", views.member_list, name="member-list"),
    path("practice/members/<uuid:membership_id>/", views.member_update, name="member-update"),
    path("practice/tokens/", views.token_list, name="token-list"),
    path("practice/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("audit/", views.audit_list, name="audit-list"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("session/keepalive/", views.session_keepalive, name="session-keepalive"),
    path("session/status/", views.session_status, name="session-status"),
]

urlpatterns = [
    path("", views.start, name="start"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics_export, name="metrics"),
    path("accounts/", include("allauth.urls")),
    path("api/", include("ccm.api_urls")),
    path("patients/", include("patients.urls")),
    path("care-plans/", include("careplans.urls")),
    path("billing/", include("billing.urls")),
    path("", include("timelog.urls")),
    path("", include((ccm_patterns, "ccm"))),
]

# JSON under /api/, the templates' pages elsewhere (ccm/errors.py).
handler400 = "ccm.errors.bad_request"
handler403 = "ccm.errors.permission_denied"
handler404 = "ccm.errors.page_not_found"
handler500 = "ccm.errors.server_error"
