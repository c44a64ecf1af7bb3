"""The ledger's invariants under real concurrency (PostgreSQL: real row locks, real threads).

Every thread holds its own database connection (Django gives each thread one) and all start
together on a barrier, so the writers really do race for the one member row.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from rest_framework.test import APIClient

from ledger import services
from ledger.models import Entry
from ledger.selectors import member_ledger_discrepancies
from loyaltysite.errors import InsufficientPoints
from members.models import Member
from tests.concurrency import in_threads

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

THREADS = 16
OPS_PER_THREAD = 30


def _mixed_writes(member: Member, seed: int) -> Counter:
    """Random credits, debits, reserves (then confirm or release) and signed adjusts.

    Returns what the successful ones should have done to the member's figures.
    """
    rng = random.Random(seed)
    done: Counter = Counter()
    holds = []
    # One debit no balance can cover, whatever the interleaving: a rejection must write nothing.
    try:
        services.points_debit(member=member, points=services.MAX_POINTS, actor="t")
    except InsufficientPoints:
        done["rejected"] += 1
    for _ in range(OPS_PER_THREAD):
        op = rng.choice(["credit", "credit", "debit", "reserve", "settle", "adjust"])
        points = rng.randint(1, 60)
        try:
            if op == "credit":
                services.points_credit(member=member, points=points, actor="t")
                done["balance"] += points
                done["lifetime"] += points
            elif op == "debit":
                services.points_debit(member=member, points=points, actor="t")
                done["balance"] -= points
            elif op == "reserve":
                holds.append(services.points_reserve(member=member, points=points, actor="t"))
                done["balance"] -= points
                done["reserved"] += points
            elif op == "settle" and holds:
                hold = holds.pop(rng.randrange(len(holds)))
                if rng.random() < 0.5:
                    services.hold_confirm(hold=hold, actor="t")
                else:
                    services.hold_release(hold=hold, actor="t")
                    done["balance"] += hold.points
                done["reserved"] -= hold.points
            elif op == "adjust":
                signed = points if rng.random() < 0.5 else -points
                services.points_adjust(member=member, points=signed, actor="t", reason="fix")
                done["balance"] += signed
                done["lifetime"] += max(signed, 0)
            else:
                continue
            done["entries"] += 1
        except InsufficientPoints:
            done["rejected"] += 1
    return done


def test_concurrent_mixed_writers_on_one_member_lose_nothing(member, clock):
    # when: 16 threads credit, debit, reserve, settle and adjust the same member at once
    tallies = in_threads(THREADS, lambda i: _mixed_writes(member, seed=i))

    # then: the figures are exactly the sum of what succeeded
    expected: Counter = Counter()
    for tally in tallies:
        expected.update(tally)  # update() keeps negative sums; ``+`` would drop them
    member = Member.objects.get(pk=member.pk)
    assert member.balance == expected["balance"]
    assert member.reserved_points == expected["reserved"]
    assert member.lifetime_points == expected["lifetime"]
    assert member_ledger_discrepancies(member_id=member.pk) == []
    # rejections happened and wrote nothing: one entry per successful operation
    assert expected["rejected"] > 0
    assert Entry.objects.filter(member=member).count() == expected["entries"]
    # writers serialised: each entry's balance_after follows from the one before it
    running = 0
    for delta, after in Entry.objects.filter(member=member).order_by("id").values_list(
        "balance_delta", "balance_after"
    ):
        running += delta
        assert after == running >= 0


def test_concurrent_debits_never_overdraw(member, clock):
    services.points_credit(member=member, points=100, actor="t")

    outcomes = in_threads(THREADS, lambda i: _try_debit(member, 10))

    assert outcomes.count(True) == 10
    assert outcomes.count(False) == THREADS - 10
    assert Member.objects.get(pk=member.pk).balance == 0
    assert member_ledger_discrepancies(member_id=member.pk) == []


def _try_debit(member: Member, points: int) -> bool:
    try:
        services.points_debit(member=member, points=points, actor="t")
    except InsufficientPoints:
        return False
    return True


def _canonical(body: Any) -> str:
    """The JSON value, whatever the key order (a replayed body comes back from jsonb)."""
    return json.dumps(body, sort_keys=True)


def _post_in_threads(api, url: str, bodies: list[dict], key: str) -> list[tuple[int, Any, bool]]:
    def post(i: int) -> tuple[int, Any, bool]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api.raw_key}")
        response = client.post(url, bodies[i], format="json", HTTP_IDEMPOTENCY_KEY=key)
        return response.status_code, response.json(), response.has_header("Idempotent-Replayed")

    return in_threads(len(bodies), post)


def test_one_idempotency_key_sent_by_16_threads_at_once_applies_once(api, program, member, clock):
    url = f"/api/v1/programs/{program.pk}/members/{member.pk}/earn/"

    answers = _post_in_threads(
        api, url, [{"points": 40, "reason": "race"}] * THREADS, key="same-key"
    )

    # the second and later requests waited on the key's unique index, then replayed the first
    assert {status for status, _, _ in answers} == {201}
    assert len({_canonical(body) for _, body, _ in answers}) == 1
    assert sum(replayed for _, _, replayed in answers) == THREADS - 1
    assert Entry.objects.filter(member=member).count() == 1
    assert Member.objects.get(pk=member.pk).balance == 40


def test_racing_different_requests_with_one_key_apply_only_the_winner(
    api, program, member, clock
):
    url = f"/api/v1/programs/{program.pk}/members/{member.pk}/earn/"
    bodies = [{"points": 5 if i % 2 else 7, "reason": "race"} for i in range(THREADS)]

    answers = _post_in_threads(api, url, bodies, key="contested")

    applied = [body for status, body, _ in answers if status == 201]
    refused = [body for status, body, _ in answers if status != 201]
    assert len(applied) == THREADS // 2  # everyone who sent the winner's request
    assert len({_canonical(body) for body in applied}) == 1
    assert {body["code"] for body in refused} == {"IDEMPOTENCY_CONFLICT"}
    assert Entry.objects.filter(member=member).count() == 1
    assert Member.objects.get(pk=member.pk).balance == applied[0]["entry"]["points"]
