"""The console's tier pages and the member page's tier and streak parts: per role, scoped,
actions through the services."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tiers import services
from tiers.models import Tier, TierChange, TierOverride, TierSettings

from .conftest import fresh

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


@pytest.fixture
def silver_member(ladder, weekly, member, earn, order):
    earn(member, 1200)
    order(member)
    return member


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_tier_pages_render_for_owners_and_managers(request, who, silver_member, ladder):
    client = request.getfixturevalue(who)
    services.tier_override_set(member=silver_member, tier=ladder[2], reason="VIP", actor="t")
    for name, args in (
        ("tiers_tier_changelist", ()), ("tiers_tier_change", (ladder[1].pk,)),
        ("tiers_tiersettings_changelist", ()), ("tiers_tierchange_changelist", ()),
        ("tiers_tieroverride_changelist", ()),
        ("members_member_change", (silver_member.pk,)),
        ("members_member_changelist", ()),
    ):
        response = client.get(url(name, *args))
        assert response.status_code == 200, name


def test_the_ladder_list_counts_members_per_tier(owner_client, silver_member, ladder):
    response = owner_client.get(url("tiers_tier_changelist"))
    counts = {t.name: t.member_total for t in response.context["cl"].result_list}
    assert counts == {"Bronze": 0, "Silver": 1, "Gold": 0}
    assert 'fill="#C9A227"' in response.content.decode()


def test_an_owner_adds_a_tier_through_the_form_and_a_bad_threshold_is_refused(
    owner_client, program, ladder
):
    form = {"program": program.pk, "name": "Platinum", "rank": 4, "threshold_points": 9000,
            "threshold_amount": "0", "earn_multiplier": "2", "perks": "", "colour": "#E5E4E2",
            "streak_multiplier": "2", "streak_bonus_points": 100}
    response = owner_client.post(url("tiers_tier_add"), form)
    assert response.status_code == 302
    assert Tier.objects.get(name="Platinum").threshold_points == 9000

    owner_client.post(url("tiers_tier_add"), {**form, "name": "Diamond", "rank": 5,
                                              "threshold_points": 10})
    assert not Tier.objects.filter(name="Diamond").exists()


def test_a_manager_cannot_change_the_ladder(manager_client, ladder, program):
    assert manager_client.get(url("tiers_tier_add")).status_code == 403
    response = manager_client.post(url("tiers_tier_change", ladder[1].pk),
                                   {"program": program.pk, "name": "Hacked", "rank": 2})
    assert response.status_code == 403
    assert Tier.objects.get(pk=ladder[1].pk).name == "Silver"


def test_deleting_a_tier_in_use_is_refused_with_a_message(owner_client, silver_member, ladder):
    response = owner_client.post(url("tiers_tier_delete", ladder[1].pk), {"post": "yes"},
                                 follow=True)
    assert Tier.objects.filter(pk=ladder[1].pk).exists()
    assert "still in use" in response.content.decode()


def test_the_settings_page_saves_through_the_service(owner_client, program, weekly):
    settings = TierSettings.objects.get(program=program)
    form = {name: getattr(settings, name) for name in (
        "basis", "window_months", "grace_days", "evaluation_days", "streak_cycle",
        "streak_activity", "pauses_per_year", "max_pause_days", "milestone_every",
        "milestone_points")}
    form["streak_event_types"] = "[]"
    form["grace_days"] = 14
    response = owner_client.post(url("tiers_tiersettings_change", settings.pk), form)
    assert response.status_code == 302, response.content
    assert TierSettings.objects.get(program=program).grace_days == 14


def test_the_member_page_shows_tier_progress_streak_and_history(owner_client, silver_member):
    page = owner_client.get(url("members_member_change", silver_member.pk)).content.decode()
    text = re.sub(r"\s+", " ", page)
    assert "1288 points to Gold" in text  # 2500 - 1200 - (10 + 2 for the order at Silver)
    assert "1 (week cycles), active" in text
    assert "Tier history" in text
    for action in ("tier-override", "streak-pause"):
        assert f"/{silver_member.pk}/{action}/" in page
    assert "/streak-resume/" not in page
    assert "/tier-override-clear/" not in page


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_owners_and_managers_override_a_tier_with_a_reason(request, who, silver_member, ladder):
    client = request.getfixturevalue(who)
    action = url("members_member_tier_override", silver_member.pk)
    assert client.get(action).status_code == 200

    client.post(action, {"tier": ladder[2].pk, "reason": ""})
    assert not TierOverride.objects.exists()  # a reason is required

    response = client.post(action, {"tier": ladder[2].pk, "reason": "Lost order"})

    assert response.status_code == 302
    assert fresh(silver_member).tier.name == "Gold"
    change = TierChange.objects.filter(member=silver_member).latest("id")
    assert (change.reason, change.note, change.actor.startswith("staff:")) == (
        "override", "Lost order", True)

    client.post(url("members_member_tier_override_clear", silver_member.pk))
    assert fresh(silver_member).tier.name == "Silver"


def test_another_merchants_tier_cannot_be_chosen_for_an_override(owner_client, silver_member,
                                                                 other_program):
    foreign = services.tier_create(program=other_program, name="Gold", rank=1,
                                   threshold_points=0)
    owner_client.post(url("members_member_tier_override", silver_member.pk),
                      {"tier": foreign.pk, "reason": "x"})
    assert not TierOverride.objects.exists()


def test_staff_pause_and_resume_a_streak(manager_client, silver_member, clock):
    response = manager_client.post(url("members_member_streak_pause", silver_member.pk),
                                   {"days": 10, "reason": "Hospital"})
    assert response.status_code == 302
    assert fresh(silver_member).streak_state == "paused"
    clock.advance(days=2)
    manager_client.post(url("members_member_streak_resume", silver_member.pk))
    assert fresh(silver_member).streak_state == "active"


def test_the_member_list_filters_by_streak_state(owner_client, silver_member, member):
    services.streak_pause(member=silver_member, days=5, actor="t")
    response = owner_client.get(url("members_member_changelist"), {"streak_state": "paused"})
    assert [m.pk for m in response.context["cl"].result_list] == [silver_member.pk]
    assert "Paused · 1" in response.content.decode()


def test_another_merchants_rows_are_not_found(owner_client, other_program, other_member):
    foreign = services.tier_create(program=other_program, name="Gold", rank=1,
                                   threshold_points=0)
    services.tier_settings_update(program=other_program, streak_cycle="week")
    settings = TierSettings.objects.get(program=other_program)
    assert owner_client.get(url("tiers_tier_change", foreign.pk)).status_code == 404
    assert owner_client.get(url("tiers_tiersettings_change", settings.pk)).status_code == 404
    for action in ("tier_override", "streak_pause", "streak_resume", "tier_override_clear"):
        response = owner_client.post(url(f"members_member_{action}", other_member.pk),
                                     {"tier": foreign.pk, "reason": "x", "days": 3})
        assert response.status_code == 404, action
    assert fresh(other_member).streak_state == "active"
    assert not TierOverride.objects.exists()
    listed = owner_client.get(url("tiers_tier_changelist")).context["cl"].result_list
    assert foreign.pk not in [t.pk for t in listed]


def test_the_dashboard_shows_the_tier_distribution(owner_client, other_owner_user, silver_member,
                                                   ladder, other_program, client):
    services.tier_create(program=other_program, name="Rival tier", rank=1, threshold_points=0)
    page = re.sub(r"\s+", " ", owner_client.get(url("index")).content.decode())
    assert "Tier distribution" in page
    assert "Silver" in page
    assert "100.0 %" in page
    assert "Rival tier" not in page
