"""RATE_LIMITED (429) per API key, with Retry-After; a key may carry its own limit (#8, 9)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from members.services import api_key_create
from tests.api.helpers import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _client(merchant, **kwargs) -> APIClient:
    _, raw = api_key_create(merchant=merchant, name="limited", **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def test_a_key_beyond_its_rate_is_told_when_to_come_back(merchant, program, settings):
    settings.API_RATE_LIMIT = 3
    client = _client(merchant)

    statuses = [client.get("/api/v1/programs/").status_code for _ in range(3)]
    refused = client.get("/api/v1/programs/")

    assert statuses == [200, 200, 200]
    assert_problem(refused, 429, "RATE_LIMITED")
    assert 0 < int(refused["Retry-After"]) <= 60


def test_each_key_has_its_own_count(merchant, program, settings):
    settings.API_RATE_LIMIT = 2
    busy, other = _client(merchant), _client(merchant)

    for _ in range(2):
        busy.get("/api/v1/programs/")

    assert busy.get("/api/v1/programs/").status_code == 429
    assert other.get("/api/v1/programs/").status_code == 200


def test_a_key_may_carry_its_own_limit(merchant, program, settings):
    settings.API_RATE_LIMIT = 2
    generous = _client(merchant, rate_limit_per_minute=5)

    statuses = [generous.get("/api/v1/programs/").status_code for _ in range(6)]

    assert statuses == [200] * 5 + [429]


def test_the_count_starts_again_after_the_window(merchant, program, settings, monkeypatch):
    from loyaltysite.api.throttling import ApiKeyRateThrottle

    settings.API_RATE_LIMIT = 1
    client = _client(merchant)
    now = [1_000_000.0]
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: now[0]))

    assert client.get("/api/v1/programs/").status_code == 200
    assert client.get("/api/v1/programs/").status_code == 429
    now[0] += 61
    assert client.get("/api/v1/programs/").status_code == 200
