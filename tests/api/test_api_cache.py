"""The process keeps API keys and programs it read; a change is never served from the cache."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyaltysite.api import cache
from members.models import Merchant, MerchantAPIKey
from members.services import program_delete
from tests.rules.factories import assert_problem, post

pytestmark = pytest.mark.django_db


def programs(api):
    return api.get("/api/v1/programs/")


def an_order(api, program, member, order_id: str):
    return post(api, f"/api/v1/programs/{program.pk}/orders/",
                {"order_id": order_id, "member": str(member.pk), "amount": "10.00",
                 "currency": program.currency})


def tables_read(queries) -> str:
    return " ".join(q["sql"] for q in queries)


def test_a_repeat_member_look_up_is_one_query(api, program, member):
    """The balance look-up a checkout makes: the key, the program (and the tier ladder) come
    from the process; the member row is the one round trip left."""
    path = f"/api/v1/programs/{program.pk}/members/{member.pk}/"
    assert api.get(path).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        response = api.get(path)

    assert response.status_code == 200
    sql = tables_read(queries)
    assert "members_merchantapikey" not in sql
    assert "members_program" not in sql
    assert len(queries) <= 1, sql


def test_a_key_revoked_by_saving_it_is_refused_by_the_next_request(api, merchant):
    assert programs(api).status_code == 200
    key = MerchantAPIKey.objects.get(merchant=merchant)

    key.revoked = True
    key.save()

    assert_problem(programs(api), 401, "AUTHENTICATION_FAILED")


def test_keys_revoked_in_bulk_are_refused_by_the_next_request(api, merchant):
    """The console's "Revoke selected keys" action is a bulk update."""
    assert programs(api).status_code == 200

    MerchantAPIKey.objects.filter(merchant=merchant).update(revoked=True)

    assert_problem(programs(api), 401, "AUTHENTICATION_FAILED")


def test_a_deactivated_merchants_cached_key_is_refused(api, merchant):
    assert programs(api).status_code == 200

    Merchant.objects.filter(pk=merchant.pk).update(is_active=False)

    assert_problem(programs(api), 401, "AUTHENTICATION_FAILED")


def test_a_cached_key_is_refused_once_it_expires(api, merchant):
    import time
    from datetime import timedelta

    from django.utils import timezone

    MerchantAPIKey.objects.filter(merchant=merchant).update(
        expiry_date=timezone.now() + timedelta(seconds=1)
    )
    assert programs(api).status_code == 200  # cached from here on
    time.sleep(1.1)

    with CaptureQueriesContext(connection) as queries:
        response = programs(api)

    assert_problem(response, 401, "AUTHENTICATION_FAILED")
    assert "members_merchantapikey" not in tables_read(queries)


def test_a_changed_program_is_seen_by_the_next_order(api, program, member):
    assert an_order(api, program, member, "c-1").json()["points"] == 10

    program.earn_rate = Decimal("3")
    program.save()

    assert an_order(api, program, member, "c-2").json()["points"] == 30


def test_a_deleted_program_answers_404_at_once(api, program, member):
    assert api.get(f"/api/v1/programs/{program.pk}/").status_code == 200

    program_delete(program=program)

    assert_problem(an_order(api, program, member, "d-1"), 404, "NOT_FOUND")


def test_a_cleared_django_cache_never_brings_back_an_old_entry(api, program, member):
    """The version is a random token: clearing Django's cache cannot revive an entry."""
    from django.core.cache import cache as django_cache

    assert an_order(api, program, member, "v-1").status_code == 201
    django_cache.clear()
    program.earn_rate = Decimal("2")
    program.save()

    assert an_order(api, program, member, "v-2").json()["points"] == 20


def test_with_no_time_to_live_nothing_is_kept(api, program, member, settings):
    settings.API_CACHE_SECONDS = 0
    assert programs(api).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        assert programs(api).status_code == 200

    assert "members_merchantapikey" in tables_read(queries)


def test_a_cached_program_is_handed_out_as_a_copy(api, program, member):
    """A request that attaches things to its program does not change the next one's."""
    store = cache.HotCache()
    original = store.get("p", lambda: program)

    original.name = "changed by a request"

    assert store.get("p", lambda: None).name == program.name == "Acme Rewards"
