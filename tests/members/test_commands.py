"""The operator's management commands."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from members.models import Member, Merchant, MerchantAPIKey, Program, StaffMembership

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_merchant_with_an_owner_is_idempotent():
    _call("create_merchant", "bean-bar", "--name", "Bean Bar", "--owner", "boss@bean.test")
    _call("create_merchant", "bean-bar", "--name", "Bean Bar", "--owner", "boss@bean.test")

    merchant = Merchant.objects.get(slug="bean-bar")
    membership = StaffMembership.objects.get(merchant=merchant)
    assert Merchant.objects.filter(slug="bean-bar").count() == 1
    assert membership.role == StaffMembership.Role.OWNER
    assert membership.user.is_staff
    assert membership.user.groups.filter(name="Owner").exists()


def test_create_api_key_prints_only_the_key_on_its_last_line(client):
    _call("create_merchant", "bean-bar", "--name", "Bean Bar")

    key = _call("create_api_key", "bean-bar").strip().splitlines()[-1]

    stored = MerchantAPIKey.objects.get()
    assert key.startswith(stored.prefix + ".")
    assert key not in stored.hashed_key
    assert client.get("/api/v1/programs/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 200


def test_create_api_key_for_an_unknown_merchant_fails():
    with pytest.raises(CommandError):
        _call("create_api_key", "nobody")


def test_loyalty_demo_is_idempotent_and_prints_logins_and_a_working_key(client):
    first = _call("loyalty_demo")
    counts = (Program.objects.count(), Member.objects.count())
    from ledger.models import Entry

    entries = Entry.objects.count()
    second = _call("loyalty_demo")

    assert (Program.objects.count(), Member.objects.count()) == counts
    assert Entry.objects.count() == entries
    assert entries > 0
    for login in ("owner@demo.test", "manager@demo.test", "customer@demo.test"):
        assert login in first
    key = second.strip().splitlines()[-1].split("API key: ")[1]
    response = client.get("/api/v1/programs/", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200
    assert response.json()["results"][0]["name"] == "Demo Rewards"
    assert client.login(username="owner@demo.test", password="demo-pass-2026")
