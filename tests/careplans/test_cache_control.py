"""The care plan PDF carries patient data: never cached, on the page or the API (issue 14, 6)."""

import pytest

from tests.helpers import token_client

pytestmark = pytest.mark.usefixtures("frozen")


def test_care_plan_pdf_is_never_cached(coordinator_client, biller, signed):
    page = coordinator_client.get(f"/care-plans/{signed.pk}/pdf/")
    api = token_client(biller).get(f"/api/v1/care-plans/{signed.pk}/pdf/")
    for response in (page, api):
        assert response["Content-Type"] == "application/pdf"
        assert response["Cache-Control"] == "no-store"
