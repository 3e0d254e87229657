"""R33 on the pages and the API: the policy's place of service is chosen from the CMS code set
(billing.rules.codes.PLACE_OF_SERVICE_CODES), and nothing else is taken."""

from __future__ import annotations

import re

from billing.rules.codes import PLACE_OF_SERVICE_CODES
from tests.helpers import token_client


def test_the_policy_page_offers_exactly_the_cms_codes(admin_client):
    html = admin_client.get("/billing/policy/").content.decode()
    select = html[html.index('name="place_of_service"') :]
    select = select[: select.index("</select>")]
    offered = re.findall(r'<option value="(\d\d)"', select)
    assert offered == list(PLACE_OF_SERVICE_CODES)
    assert '<option value="27">27 Outreach site/street</option>' in select


def test_the_policy_api_takes_a_cms_code_and_refuses_an_unassigned_one(admin):
    client = token_client(admin)
    policy = client.get("/api/v1/billing/policy/").json()
    policy = {k: v for k, v in policy.items() if k not in ("uses_defaults", "defaults")}
    assert (
        client.put(
            "/api/v1/billing/policy/", {**policy, "place_of_service": "66"}, format="json"
        ).status_code
        == 200
    )
    answer = client.put(
        "/api/v1/billing/policy/", {**policy, "place_of_service": "30"}, format="json"
    )
    assert answer.status_code == 400
    assert list(answer.json()) == ["place_of_service"]
