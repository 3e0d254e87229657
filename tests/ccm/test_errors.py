"""Errors Django answers itself are JSON under /api/ and the HTML pages elsewhere."""

import pytest
from django.test import Client

from ccm import errors
from ccm.apis import MeApi


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": errors.NOT_FOUND_MESSAGE}


def test_an_unknown_api_id_shape_is_a_json_404(coordinator_client):
    response = coordinator_client.get("/api/v1/patients/not-a-uuid/")
    assert response.status_code == 404
    assert response.json() == {"detail": errors.NOT_FOUND_MESSAGE}


def test_an_unknown_page_is_still_the_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_crash_under_api_is_a_json_500(coordinator, monkeypatch):
    def crash(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(MeApi, "get", crash)
    client = Client(raise_request_exception=False)
    client.force_login(coordinator.user)
    response = client.get("/api/v1/me/")
    assert response.status_code == 500
    assert response.json() == {"detail": errors.SERVER_ERROR_MESSAGE}


@pytest.mark.parametrize("path", ["/api/v1/me/", "/home/"])
def test_bad_request_and_forbidden_follow_the_prefix(rf, path):
    request = rf.get(path)
    bad = errors.bad_request(request, Exception())
    forbidden = errors.permission_denied(request, Exception())
    api = path.startswith("/api/")
    assert (bad["Content-Type"] == "application/json") is api
    assert (forbidden["Content-Type"] == "application/json") is api
    assert (bad.status_code, forbidden.status_code) == (400, 403)
