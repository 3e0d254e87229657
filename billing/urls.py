"""Billing pages (/billing/…): months, close, claims, exports; other services and month
facts (facts_urls); fee schedule and POLICY (settings_urls)."""

from typing import Any

from billing import facts_urls, settings_urls

app_name = "billing"

urlpatterns: list[Any] = [*facts_urls.urlpatterns, *settings_urls.urlpatterns]
