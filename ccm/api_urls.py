"""Every API route, in one place (/api/…)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ccm import apis

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("v1/me/", apis.MeApi.as_view(), name="me"),
    path("v1/audit-events/", apis.AuditEventListApi.as_view(), name="audit-event-list"),
]
