"""The import and export pages honour the console's Content Security Policy."""

from __future__ import annotations

import pytest

from members.models import Member
from tests.accounts.html_scan import inline_parts

from .conftest import dry_run

pytestmark = pytest.mark.django_db


def test_import_and_export_pages_run_no_inline_script(owner_client, program, rows):
    pages = [
        owner_client.get("/admin/members/member/import/"),
        owner_client.get("/admin/members/member/export/"),
        owner_client.get("/admin/members/customer/import/"),
        owner_client.get("/admin/ledger/entry/export/"),
        owner_client.get("/admin/rules/order/export/"),
        dry_run(owner_client, rows),
        dry_run(owner_client, [{"external_id": "", "balance": "-1"}]),
    ]

    for response in pages:
        assert response.status_code == 200
        found = inline_parts(response.content.decode())
        assert (found.scripts, found.handlers) == ([], [])
    assert not Member.objects.exists()
