"""Every tiers and streaks endpoint: another merchant's program, member or tier answers 404,
exactly like an id that does not exist, and nothing changes."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import assert_problem, snapshot
from tiers import services
from tiers.models import StreakPause, Tier, TierChange, TierOverride, TierSettings

pytestmark = pytest.mark.django_db

# (method, path under the program, body)
ENDPOINTS = [
    ("get", "tiers/", None),
    ("post", "tiers/", {"name": "Intruder", "rank": 9, "threshold_points": 99999}),
    ("get", "tiers/{tier}/", None),
    ("patch", "tiers/{tier}/", {"name": "Hijacked"}),
    ("delete", "tiers/{tier}/", None),
    ("get", "tier-settings/", None),
    ("patch", "tier-settings/", {"grace_days": 1}),
    ("post", "members/{member}/tier-override/", {"tier": "{tier}", "reason": "x"}),
    ("delete", "members/{member}/tier-override/", None),
    ("get", "members/{member}/tier-history/", None),
    ("post", "members/{member}/streak/pause/", {"days": 3}),
    ("post", "members/{member}/streak/resume/", None),
]


def everything() -> tuple:
    return (
        snapshot(),
        list(Tier.objects.values_list("id", "name", "threshold_points")),
        list(TierSettings.objects.values_list("id", "grace_days")),
        list(TierOverride.objects.values_list("id", "ended_at")),
        list(TierChange.objects.values_list("id", flat=True)),
        list(StreakPause.objects.values_list("id", "resumed_on")),
    )


@pytest.fixture
def victim(program, member, clock):
    """``member`` of ``program``: a ladder, an override and a paused weekly streak."""
    tier = services.tier_create(program=program, name="Gold", rank=1, threshold_points=0)
    services.tier_settings_update(program=program, streak_cycle="week")
    services.tier_override_set(member=member, tier=tier, reason="VIP", actor="t")
    services.streak_pause(member=member, days=5, actor="t")
    return member, tier


def _call(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def _fill(path: str, body, member_id: int, tier_id: int):
    path = path.format(member=member_id, tier=tier_id)
    if body and body.get("tier") == "{tier}":
        body = {**body, "tier": tier_id}
    return path, body


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_merchants_program_answers_404_and_changes_nothing(other_api, victim, method,
                                                                   path, body):
    member, tier = victim
    path, body = _fill(path, body, member.pk, tier.pk)
    before = everything()

    response = _call(other_api, method, f"/api/v1/programs/{member.program_id}/{path}", body)

    assert_problem(response, 404, "NOT_FOUND")
    assert everything() == before


@pytest.mark.parametrize(("method", "path", "body"),
                         [e for e in ENDPOINTS if "{member}" in e[1]])
def test_another_merchants_member_under_my_program_answers_404(api, program, victim, method,
                                                               path, body):
    member, tier = victim
    mine = services.tier_create(program=program, name="Mine", rank=2, threshold_points=10)
    from tests.factories import MemberFactory, ProgramFactory

    other_program = ProgramFactory(name="Theirs")
    theirs = MemberFactory(program=other_program)
    path, body = _fill(path, body, theirs.pk, mine.pk)
    before = everything()

    response = _call(api, method, f"/api/v1/programs/{program.pk}/{path}", body)

    assert_problem(response, 404, "MEMBER_NOT_FOUND")
    assert everything() == before


@pytest.mark.parametrize(("method", "path", "body"),
                         [e for e in ENDPOINTS if "{tier}" in e[1] or (e[2] or {}).get("tier")])
def test_another_merchants_tier_answers_tier_not_found(api, program, member, other_program,
                                                       method, path, body, clock):
    foreign = services.tier_create(program=other_program, name="Theirs", rank=1,
                                   threshold_points=0)
    path, body = _fill(path, body, member.pk, foreign.pk)
    before = everything()

    response = _call(api, method, f"/api/v1/programs/{program.pk}/{path}", body)

    assert_problem(response, 404, "TIER_NOT_FOUND")
    assert everything() == before


def test_lists_never_show_another_merchants_tiers(api, program, other_program, clock):
    services.tier_create(program=program, name="Mine", rank=1, threshold_points=0)
    services.tier_create(program=other_program, name="Theirs", rank=1, threshold_points=0)
    tiers = api.get(f"/api/v1/programs/{program.pk}/tiers/").json()["results"]
    assert [t["name"] for t in tiers] == ["Mine"]
