"""Language and time: the program's language and time zone in the portal and the console, the
language switch, and days (birthdays) that begin at midnight where the program is."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.urls import reverse

from ledger.services import points_adjust, points_credit
from members.models import Member
from rules import jobs
from rules.services import rule_create
from tests.api.helpers import assert_problem, patch
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def berlin(program):
    program.time_zone = "Europe/Berlin"
    program.language = "de"
    program.save()
    return program


def test_a_german_program_shows_the_portal_in_german_with_the_24_hour_clock(
    customer_client, member, berlin, clock
):
    clock.set(datetime(2026, 3, 2, 13, 5, tzinfo=UTC))  # 14:05 in Berlin
    points_adjust(member=member, points=12500, actor="test", reason="Willkommen")

    home = customer_client.get(reverse("portal:home"))
    history = customer_client.get(reverse("portal:member", args=[member.card_id]))

    assert home["Content-Language"] == "de"
    page = home.content.decode()
    assert '<html lang="de">' in page
    assert "Meine Programme" in page
    assert "Guthaben" in page
    assert "<dd>12.500 <span" in page  # German grouping, no decimals
    body = history.content.decode()
    assert "02.03.2026 14:05" in body
    # no 12-hour marker after any time (a random card id may well contain "PM")
    assert re.search(r"\d:\d\d\s*(a\.m\.|p\.m\.|(?:AM|PM)\b)", body) is None
    assert "Verlauf" in body


def test_an_english_program_keeps_english(customer_client, member, clock):
    page = customer_client.get(reverse("portal:home")).content.decode()

    assert "My programs" in page
    assert '<html lang="en">' in page


def test_the_language_switch_overrides_the_programs_language(customer_client, member, berlin):
    response = customer_client.post(
        reverse("portal:set_language"), {"language": "en-gb", "next": reverse("portal:home")}
    )

    assert response.status_code == 302
    assert customer_client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en-gb"
    page = customer_client.get(reverse("portal:home")).content.decode()
    assert "My programs" in page
    assert '<html lang="en-gb">' in page


def test_the_portal_offers_every_language_in_a_form_without_script(customer_client, member):
    page = customer_client.get(reverse("portal:home")).content.decode()

    assert f'action="{reverse("portal:set_language")}"' in page
    for code, _name in settings.LANGUAGES:
        assert f'value="{code}"' in page
    assert "<script>" not in page  # no inline script


def test_british_english_writes_times_on_the_24_hour_clock(customer_client, member, clock):
    member.program.language = "en-gb"
    member.program.save()
    clock.set(datetime(2026, 3, 2, 15, 40, tzinfo=UTC))
    points_credit(member=member, points=30, actor="test", reason="Order")

    page = customer_client.get(reverse("portal:member", args=[member.card_id])).content.decode()

    assert "02/03/2026 15:40" in page


def test_the_console_speaks_the_programs_language(owner_client, berlin):
    page = owner_client.get(reverse("admin:members_program_changelist")).content.decode()

    assert '<html lang="de"' in page
    assert "Programme" in page


def test_history_dates_are_in_the_programs_time_zone(customer_client, member, berlin, clock):
    clock.set(datetime(2026, 6, 30, 22, 30, tzinfo=UTC))  # already 1 July in Berlin
    points_adjust(member=member, points=5, actor="test", reason="late")

    page = customer_client.get(reverse("portal:member", args=[member.card_id])).content.decode()

    assert "01.07.2026 00:30" in page


def test_a_birthday_begins_at_midnight_in_the_programs_time_zone(berlin, clock):
    rule_create(program=berlin, kind="birthday", config={"points": 50}, name="Birthday")
    utc_program = ProgramFactory(merchant=berlin.merchant, name="UTC club")
    rule_create(program=utc_program, kind="birthday", config={"points": 50}, name="Birthday")
    born = date(1990, 1, 16)
    in_berlin = MemberFactory(program=berlin, customer__birthday=born)
    in_utc = MemberFactory(program=utc_program, customer__birthday=born)
    clock.set(datetime(2026, 1, 15, 23, 30, tzinfo=UTC))  # 00:30 on the 16th in Berlin

    paid = jobs.birthday_awards(clock=clock, batch_size=10)

    assert paid == 1
    assert Member.objects.get(pk=in_berlin.pk).balance == 50
    assert Member.objects.get(pk=in_utc.pk).balance == 0
    clock.set(datetime(2026, 1, 16, 22, 30, tzinfo=UTC))  # 23:30 on the 16th in Berlin
    assert jobs.birthday_awards(clock=clock, batch_size=10) == 1  # the UTC member's turn
    assert Member.objects.get(pk=in_berlin.pk).balance == 50  # once a year


def test_a_birthday_year_is_the_programs_year(berlin, clock):
    rule_create(program=berlin, kind="birthday", config={"points": 50}, name="Birthday")
    member = MemberFactory(program=berlin, customer__birthday=date(1990, 1, 1))
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))  # New Year's Day 2027 in Berlin

    assert jobs.birthday_awards(clock=clock, batch_size=10) == 1
    clock.set(datetime(2027, 1, 1, 12, 0, tzinfo=UTC))
    assert jobs.birthday_awards(clock=clock, batch_size=10) == 0
    assert Member.objects.get(pk=member.pk).balance == 50


def test_the_console_writes_times_in_the_programs_time_zone(owner_client, member, berlin, clock):
    clock.set(datetime(2026, 6, 30, 22, 30, tzinfo=UTC))  # already 1 July in Berlin
    points_adjust(member=member, points=5, actor="test", reason="late")

    page = owner_client.get(reverse("admin:ledger_entry_changelist")).content.decode()

    assert "1. Juli 2026 00:30" in page


def test_a_daily_streak_cycle_turns_at_midnight_in_the_programs_time_zone(berlin, member, clock):
    from decimal import Decimal

    from rules.services import Customer, order_record
    from tiers.services import tier_settings_update

    tier_settings_update(program=berlin, streak_cycle="day", streak_activity="orders")
    orders = iter(range(1, 100))

    def order_at(moment: datetime) -> Member:
        clock.set(moment)
        order_record(program=berlin, order_id=f"o-{next(orders)}", amount=Decimal("5.00"),
                     currency="EUR", customer=Customer(member=str(member.pk)), actor="test",
                     clock=clock)
        return Member.objects.get(pk=member.pk)

    first = order_at(datetime(2026, 1, 15, 23, 30, tzinfo=UTC))  # 00:30 on the 16th in Berlin
    same_day = order_at(datetime(2026, 1, 16, 22, 30, tzinfo=UTC))  # 23:30 on the 16th
    next_day = order_at(datetime(2026, 1, 16, 23, 30, tzinfo=UTC))  # 00:30 on the 17th

    assert (first.streak, first.streak_cycle) == (1, date(2026, 1, 16))
    assert (same_day.streak, same_day.streak_cycle) == (1, date(2026, 1, 16))
    assert (next_day.streak, next_day.streak_cycle) == (2, date(2026, 1, 17))


def test_a_programs_language_is_set_through_the_api(api, program):
    response = patch(api, f"/api/v1/programs/{program.pk}/", {"language": "de"})

    assert response.status_code == 200, response.content
    assert response.json()["language"] == "de"
    program.refresh_from_db()
    assert program.language == "de"
    assert_problem(patch(api, f"/api/v1/programs/{program.pk}/", {"language": "xx"}), 400,
                   "VALIDATION_ERROR", "language")
