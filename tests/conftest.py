"""Fixtures shared by every suite: a moved clock, merchants, API clients per role."""

from __future__ import annotations

import pytest
from django.db import connection
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from loyaltysite.clock import FrozenClock, use_clock
from members.models import StaffMembership
from members.services import api_key_create, staff_attach

from .factories import (
    FIXED_NOW,
    CustomerFactory,
    MemberFactory,
    MerchantFactory,
    ProgramFactory,
    UserFactory,
)


def pytest_collection_modifyitems(config, items):
    """Concurrency tests need real row locks: on SQLite they are reported as skipped."""
    if connection.vendor != "postgresql" and _is_sqlite():
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
        for item in items:
            if item.get_closest_marker("concurrency"):
                item.add_marker(skip)


def _is_sqlite() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


@pytest.fixture(autouse=True)
def _unscoped_test_code(request):
    """Test code reads and writes any merchant's rows; views still set their own scope."""
    if "scoped" in request.keywords:
        yield
        return
    with scopes_disabled():
        yield


@pytest.fixture(autouse=True)
def _no_rate_limit_unless_a_test_sets_one(settings):
    """Suites send thousands of requests with one key; tests/contract/test_rate_limits.py
    sets the limit it means."""
    settings.API_RATE_LIMIT = 10**6


@pytest.fixture(scope="session")
def openapi_schema() -> dict:
    """The OpenAPI schema as ``/api/schema/?format=json`` serves it (built once per run)."""
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


@pytest.fixture(autouse=True)
def _fresh_tier_caches():
    """The tiers app caches ladders per process; ids repeat across tests, so start afresh."""
    from tiers import ladder

    ladder.clear()
    yield
    ladder.clear()


@pytest.fixture
def clock():
    """A frozen clock installed process-wide (services, API views and jobs all follow it)."""
    frozen = FrozenClock(FIXED_NOW)
    with use_clock(frozen):
        yield frozen


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Acme Coffee", slug="acme")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Rival Tea", slug="rival")


@pytest.fixture
def program(merchant):
    return ProgramFactory(merchant=merchant, name="Acme Rewards", currency="EUR")


@pytest.fixture
def other_program(other_merchant):
    return ProgramFactory(merchant=other_merchant, name="Rival Rewards", currency="EUR")


@pytest.fixture
def member(program):
    return MemberFactory(program=program)


@pytest.fixture
def other_member(other_program):
    return MemberFactory(program=other_program)


@pytest.fixture
def customer(merchant):
    return CustomerFactory(merchant=merchant)


def _api_client(merchant, *, read_only=False) -> APIClient:
    _, raw = api_key_create(merchant=merchant, name="tests", read_only=read_only)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    client.raw_key = raw
    return client


@pytest.fixture
def api(merchant):
    """An API client holding a key of ``merchant``."""
    return _api_client(merchant)


@pytest.fixture
def other_api(other_merchant):
    """An API client holding a key of ``other_merchant``."""
    return _api_client(other_merchant)


@pytest.fixture
def read_only_api(merchant):
    return _api_client(merchant, read_only=True)


@pytest.fixture
def owner_user(merchant):
    user = UserFactory(username="owner@acme.test")
    staff_attach(user=user, merchant=merchant, role=StaffMembership.Role.OWNER)
    return user


@pytest.fixture
def manager_user(merchant):
    user = UserFactory(username="manager@acme.test")
    staff_attach(user=user, merchant=merchant, role=StaffMembership.Role.MANAGER)
    return user


@pytest.fixture
def other_owner_user(other_merchant):
    user = UserFactory(username="owner@rival.test")
    staff_attach(user=user, merchant=other_merchant, role=StaffMembership.Role.OWNER)
    return user


@pytest.fixture
def customer_user(member):
    """A portal user linked to ``member``'s customer."""
    user = UserFactory(username="customer@acme.test")
    member.customer.user = user
    member.customer.save(update_fields=["user"])
    return user


@pytest.fixture
def owner_client(client, owner_user):
    client.force_login(owner_user)
    return client


@pytest.fixture
def manager_client(client, manager_user):
    client.force_login(manager_user)
    return client


@pytest.fixture
def customer_client(client, customer_user):
    client.force_login(customer_user)
    return client
