"""Billing pages (/billing/…), one `billing` namespace over billing's parts: month close,
claims review, exports, billing facts (other services, month facts), fees (fee schedule,
POLICY) and submission batches."""

from typing import Any

from billing.claims import urls as claims_urls
from billing.close import urls as close_urls
from billing.exports import urls as exports_urls
from billing.facts import urls as facts_urls
from billing.fees import urls as fees_urls
from billing.remittances import urls as remittances_urls
from billing.setup import urls as setup_urls
from billing.submissions import urls as submissions_urls

app_name = "billing"

urlpatterns: list[Any] = [
    *close_urls.urlpatterns,
    *claims_urls.urlpatterns,
    *exports_urls.urlpatterns,
    *facts_urls.urlpatterns,
    *fees_urls.urlpatterns,
    *submissions_urls.urlpatterns,
    *remittances_urls.urlpatterns,
    *setup_urls.urlpatterns,
]
