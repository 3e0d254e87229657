"""No response of the app may be kept by a browser, proxy or CDN (issue 14, point 6).

One middleware sends `Cache-Control: no-store`; the URL walk (tests/test_url_walk.py) checks
every route, these check the kinds of response it does not reach in a useful state.
"""

from tests.helpers import token_client


def test_pages_htmx_fragments_and_polls_are_never_cached(coordinator_client):
    for url, headers in [
        ("/home/", {}),
        ("/patients/", {"HX-Request": "true"}),
        ("/worklist/", {}),
        ("/session/status/", {}),
    ]:
        response = coordinator_client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url


def test_api_answers_with_a_token_are_never_cached(admin):
    api = token_client(admin, name="cache")
    for url in ("/api/v1/me/", "/api/v1/patients/", "/api/v1/audit-events/"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url


def test_audit_csv_download_is_never_cached(admin_client):
    response = admin_client.get("/audit/export.csv")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_sign_out_and_refusals_are_never_cached(coordinator_client, client):
    assert coordinator_client.post("/accounts/logout/")["Cache-Control"] == "no-store"
    assert client.get("/api/v1/me/")["Cache-Control"] == "no-store"
    assert client.get("/home/")["Cache-Control"] == "no-store"


def test_public_static_files_stay_cacheable(client):
    # Served by WhiteNoise before the app: no patient data, cached as usual.
    for url in ("/favicon.ico", "/static/css/app.css"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in response["Cache-Control"], url
