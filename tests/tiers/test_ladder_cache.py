"""The per-process ladder cache: follows this process's writes, never keeps a rolled-back
one, and reloads another process's change after its time to live."""

from __future__ import annotations

import pytest
from django.db import transaction

from tiers import ladder as cache
from tiers import services
from tiers.models import Tier

pytestmark = pytest.mark.django_db


def names(program) -> list[str]:
    return [t.name for t in cache.ladder_for(program.pk).tiers]


def test_a_write_in_this_process_is_seen_at_once(program, clock):
    assert names(program) == []
    services.tier_create(program=program, name="Gold", rank=1, threshold_points=0)
    assert names(program) == ["Gold"]


def test_a_rolled_back_write_never_reaches_the_cache(program, clock):
    assert names(program) == []
    seen = []

    def write_then_fail():
        with transaction.atomic():
            services.tier_create(program=program, name="Ghost", rank=1, threshold_points=0)
            seen.extend(names(program))  # the transaction sees its own write
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_then_fail()

    assert seen == ["Ghost"]
    assert names(program) == []


def test_another_process_change_is_seen_after_the_time_to_live(program, clock, monkeypatch):
    assert names(program) == []
    # as if another process wrote it: bulk_create sends no signal, so nothing is invalidated
    Tier.objects.bulk_create([Tier(merchant=program.merchant, program=program, name="Far",
                                   rank=1)])
    assert names(program) == []

    real = cache.time.monotonic
    monkeypatch.setattr(cache.time, "monotonic", lambda: real() + cache.TTL_SECONDS + 1)

    assert names(program) == ["Far"]
