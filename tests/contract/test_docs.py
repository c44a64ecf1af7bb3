"""The API docs load nothing from another host (issue #8, item 8)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

FOREIGN = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_reference_only_this_server(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert not FOREIGN.search(html), FOREIGN.search(html)
    assert "googleapis" not in html
    assert "cdn." not in html
    assert "<script>" not in html  # no inline script: everything is a file of ours


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_forbid_the_browser_any_other_origin(client, path):
    policy = client.get(path)["Content-Security-Policy"]

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"  # ReDoc's logo on cdn.redoc.ly: blocked
    assert directives["script-src"] == "'self'"
    assert "http" not in policy


def test_swagger_ui_gets_its_set_up_script_from_this_server(client):
    html = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?[^"]*script=[^"]*)"', html)

    assert script, html
    answer = client.get(script.group(1).replace("&amp;", "&"))
    assert answer.status_code == 200
    assert "/api/schema/" in answer.content.decode()
