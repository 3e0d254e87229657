"""The page head's assets, kept per process in the layout (issue 18): what `{% static %}` and
`{% htmx_script %}` write, for a signed-in member's page and a signed-out one."""

from __future__ import annotations

from django.template import Context, Template

TAGS = Template(
    "{% load static django_htmx %}"
    '<link rel="stylesheet" href="{% static \'css/app.css\' %}">\n  {% htmx_script %}\n'
    '  <script src="{% static \'js/app.js\' %}" defer nonce="NONCE"></script>'
)


def _head(html: str, nonce: str) -> str:
    start = html.index('<link rel="stylesheet"')
    end = html.index("</script>", html.index('js/app.js"', start)) + len("</script>")
    return html[start:end].replace(str(nonce), "NONCE")


def test_a_members_page_head_is_the_tags(coordinator_client):
    response = coordinator_client.get("/worklist/")
    assert response.status_code == 200
    assert response.context["ccm_head"].app_css  # the kept head's, not the tags'
    html = response.content.decode()
    nonce = response.wsgi_request.csp_nonce
    assert _head(html, nonce) == TAGS.render(Context({}))


def test_a_signed_out_page_head_is_the_tags(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _head(html, response.wsgi_request.csp_nonce) == TAGS.render(Context({}))
