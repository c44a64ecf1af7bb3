"""The demo seed and the birthday job."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.selectors import member_ledger_discrepancies
from members.models import Member
from rules import demo, jobs, services
from rules.models import Award, EarningRule, Event, Order, Refund
from tests.factories import MemberFactory

from .conftest import fresh

pytestmark = pytest.mark.django_db


def test_the_demo_shows_every_rule_kind_and_running_it_twice_adds_nothing(program, clock):
    from tiers.models import Tier

    Tier.objects.create(merchant=program.merchant, program=program, name="Gold", rank=3)
    members = [MemberFactory(program=program) for _ in range(6)]
    members[0].tier = Tier.objects.get()
    members[0].save()

    demo.seed_demo(merchant=program.merchant, program=program, members=members, clock=clock)
    counts = (EarningRule.objects.count(), Order.objects.count(), Event.objects.count(),
              Refund.objects.count(), Award.objects.count())
    demo.seed_demo(merchant=program.merchant, program=program, members=members, clock=clock)

    assert counts == (EarningRule.objects.count(), Order.objects.count(), Event.objects.count(),
                      Refund.objects.count(), Award.objects.count())
    fired = set(Award.objects.values_list("rule__kind", flat=True))
    assert fired >= {"order", "category", "sku", "event", "tier_bonus", "welcome"}
    assert Refund.objects.count() == 2
    for member in members:
        assert member_ledger_discrepancies(member_id=member.pk) == []


def test_the_birthday_job_pays_members_born_today_once_a_year(program, make_rule, clock):
    make_rule("birthday", {"points": 50})
    today = clock.now().date()
    born_today = MemberFactory(program=program, customer__birthday=date(1990, today.month,
                                                                        today.day))
    other_day = MemberFactory(program=program, customer__birthday=date(1990, 3, 3))
    suspended = MemberFactory(program=program, status=Member.Status.SUSPENDED,
                              customer__birthday=date(1991, today.month, today.day))

    assert jobs.birthday_awards(clock=clock, batch_size=1) == 1
    assert jobs.birthday_awards(clock=clock, batch_size=1) == 0
    assert fresh(born_today).balance == 50
    assert fresh(other_day).balance == fresh(suspended).balance == 0


def test_leap_day_birthdays_are_celebrated_on_the_28th_in_other_years(program, make_rule,
                                                                      clock):
    from datetime import UTC, datetime

    make_rule("birthday", {"points": 50})
    leapling = MemberFactory(program=program, customer__birthday=date(2000, 2, 29))
    clock.set(datetime(2027, 2, 28, 9, tzinfo=UTC))

    assert jobs.birthday_awards(clock=clock, batch_size=10) == 1
    assert fresh(leapling).balance == 50


def test_no_birthday_rule_means_no_birthday_points(program, member, clock):
    assert jobs.birthday_awards(clock=clock, batch_size=10) == 0
    assert services.award_birthday(member=member, clock=clock) == 0
