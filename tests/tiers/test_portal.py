"""The portal's tier and streak panel, the ladder page and the pause / resume buttons."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tiers import services
from tiers.models import StreakPause

from .conftest import fresh

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def customer(customer_client, ladder, weekly, member, earn, order):
    """The signed-in customer's member: Silver (2180 points) with a one-week streak."""
    earn(member, 2168)
    order(member)  # 10 + 2 (Silver) points
    return customer_client


def test_the_membership_card_shows_badge_progress_benefits_and_streak(customer, member):
    page = text(customer.get(reverse("portal:home")))

    assert 'fill="#8D99A6"' in page  # the badge in Silver's colour, an SVG attribute
    assert "Silver tier" in page
    assert "320 points to Gold" in page
    assert '<progress class="tier-progress" max="1500" value="1180"' in page
    assert "1.25× points on orders" in page
    assert "Priority pickup" in page
    assert "1 week in a row" in page
    assert "3 weeks to go: at 4 weeks you earn 60 points." in page
    assert "A pause of up to 15 days keeps it; 16 to 45 days starts it again from 0" in page
    assert "You have 2 pauses of 2 left in any 12 months." in page
    assert "Pause my streak" in page


def test_portal_pages_have_no_inline_style_or_script(customer):
    for name in ("portal:home", "tiers_portal:status"):
        page = customer.get(reverse(name)).content.decode()
        assert " style=" not in page
        assert "<style" not in page.split("</head>")[1]
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # files only, no inline code
        assert " onclick=" not in page
        assert "/static/tiers/tiers.css" in page


def test_a_customer_pauses_and_resumes_their_streak(customer, member, clock):
    response = customer.post(reverse("tiers_portal:streak_pause", args=[member.card_id]),
                             {"days": "30", "next": reverse("portal:home")}, follow=True)
    page = text(response)
    assert "Your streak is paused until" in page
    assert "Resume my streak" in page
    pause = StreakPause.objects.get(member=member)
    assert (pause.actor, (pause.until - pause.started_on).days) == (f"customer:{member.pk}", 30)

    clock.advance(days=20)
    response = customer.post(reverse("tiers_portal:streak_resume", args=[member.card_id]),
                             follow=True)
    assert "Welcome back: your streak starts again from 0." in text(response)
    assert (fresh(member).streak, fresh(member).streak_state) == (0, "active")


@pytest.mark.parametrize("days", ["", "abc", "٣", "0", "-3", "9999", "99999999999999999999"])
def test_a_bad_pause_length_is_a_message_not_an_error(customer, member, days):
    response = customer.post(reverse("tiers_portal:streak_pause", args=[member.card_id]),
                             {"days": days}, follow=True)
    assert response.status_code == 200
    assert fresh(member).streak_state == "active"


def test_the_pause_limit_is_explained(customer, member, clock):
    for _ in range(2):
        services.streak_pause(member=member, days=2, actor="t")
        services.streak_resume(member=member, actor="t")
    page = text(customer.get(reverse("portal:home")))
    assert "Pause my streak" not in page
    assert "You have 0 pauses of 2 left" in page
    response = customer.post(reverse("tiers_portal:streak_pause", args=[member.card_id]),
                             {"days": "3"}, follow=True)
    assert "all are used" in text(response)


def test_pausing_needs_a_post(customer, member):
    assert customer.get(reverse("tiers_portal:streak_pause",
                                args=[member.card_id])).status_code == 405


def test_someone_elses_card_is_not_found(customer, other_member):
    for name in ("tiers_portal:streak_pause", "tiers_portal:streak_resume"):
        response = customer.post(reverse(name, args=[other_member.card_id]), {"days": "3"})
        assert response.status_code == 404
    assert fresh(other_member).streak_state == "active"


def test_anonymous_visitors_are_sent_to_sign_in(client, member):
    response = client.get(reverse("tiers_portal:status"))
    assert response.status_code == 302
    assert "/login" in response["Location"]
    Client().post(reverse("tiers_portal:streak_pause", args=[member.card_id]), {"days": "3"})
    assert fresh(member).streak_state == "active"


def test_the_ladder_page_shows_every_tier_the_current_one_and_the_history(customer, member):
    page = text(customer.get(reverse("tiers_portal:status")))
    ladder = page.split("All tiers")[1]
    assert ladder.index("Gold") < ladder.index("Silver") < ladder.index("Bronze")
    assert 'aria-current="true"' in page
    assert "You are here" in page
    assert "Your tier history" in page
    assert "Earned" in page
    assert 'href="/tiers/"' in page  # in the navigation


def test_a_program_without_tiers_or_streaks_shows_no_panel(customer_client, member):
    page = text(customer_client.get(reverse("portal:home")))
    assert "tier-panel" not in page
    assert "None of your programs has tiers yet." in text(
        customer_client.get(reverse("tiers_portal:status")))
