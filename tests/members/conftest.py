"""Fixtures of the console and portal suites."""

from __future__ import annotations

import pytest
from django.test import Client

from ledger.services import points_adjust, points_reserve
from members.services import api_key_create
from tiers.models import Tier

from ..factories import UserFactory


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def funded_member(member, clock):
    """``member`` with 100 spendable points and one 10-point hold."""
    points_adjust(member=member, points=110, reason="welcome", actor="test")
    points_reserve(member=member, points=10, actor="test", reference="order-1")
    member.refresh_from_db()
    return member


@pytest.fixture
def tier(program):
    return Tier.objects.create(merchant=program.merchant, program=program, name="Gold", rank=2)


@pytest.fixture
def other_tier(other_program):
    return Tier.objects.create(
        merchant=other_program.merchant, program=other_program, name="Platinum", rank=3
    )


@pytest.fixture
def api_key(merchant):
    key, _raw = api_key_create(merchant=merchant, name="shop")
    return key


@pytest.fixture
def operator_user(db):
    return UserFactory(username="operator@platform.test", is_staff=True, is_superuser=True)
