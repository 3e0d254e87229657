"""Month exports carry patient data: nothing may keep a copy (issue 14, point 6)."""

import pytest
import time_machine

from tests.billing.test_exports import _api, _body, closed  # noqa: F401 (fixture)
from tests.billing.test_month_close import AFTER


@pytest.fixture(autouse=True)
def _later():
    with time_machine.travel(AFTER, tick=False):
        yield


@pytest.mark.parametrize("kind", ["csv", "837", "pdf"])
def test_every_month_export_download_is_never_cached(biller_client, biller, closed, kind):  # noqa: F811
    page = biller_client.get(f"/billing/months/2026-10/export.{kind}")
    api = _api(biller).get(f"/api/v1/billing/months/2026-10/export.{kind}")
    for response in (page, api):
        assert response.status_code == 200
        assert _body(response)
        assert response["Cache-Control"] == "no-store"
