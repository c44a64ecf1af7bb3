"""Attribution and its guards: each guard alone, combined (the first in the documented order
answers), and the codes that never fail an enrolment or a sale."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.models import OutboxEvent
from loyaltysite.errors import (
    DuplicateReferral,
    MemberInactive,
    ReferralLimitExceeded,
    SelfReferral,
)
from members.models import Customer, Member
from members.services import member_set_status
from referrals import services
from referrals.errors import RefereeNotEligible
from referrals.models import Referral
from referrals.services import normalize_email, self_referral_rule

from ..factories import CustomerFactory, MemberFactory, UserFactory
from .conftest import referral_of, terms

pytestmark = pytest.mark.django_db


def attribute(program, code, referee, *, source="", clock):
    return services.referral_attribute(
        program=program, code=code.code if hasattr(code, "code") else code, referee=referee,
        channel=Referral.Channel.CHECKOUT, source=source, actor="test", clock=clock,
    )


# -- the self-referral rules, each alone and combined ---------------------------------------


def _pair(**theirs):
    """Two unsaved members of distinct customers; ``theirs`` sets the referee's identity."""
    mine = Customer(pk=1, external_id="C-100", email="dana@example.com", user_id=None)
    other = Customer(pk=2, external_id="C-200", email="eve@example.com", user_id=None)
    for field, value in theirs.items():
        setattr(other, field, value)
    return (Member(pk=10, customer_id=1), mine), (Member(pk=20, customer_id=other.pk), other)


def _rule(referrer, referee) -> str | None:
    (a, a_customer), (b, b_customer) = referrer, referee
    return self_referral_rule(referrer=a, referrer_customer=a_customer, referee=b,
                              referee_customer=b_customer)


def test_strangers_break_no_self_referral_rule():
    assert _rule(*_pair()) is None


@pytest.mark.parametrize(("theirs", "rule"), [
    ({"pk": 1}, "same_customer"),
    ({"external_id": "c-100"}, "same_external_id"),
    ({"external_id": " C-100 "}, "same_external_id"),
    ({"email": "DANA@example.com"}, "same_email"),
    ({"email": "dana+referral@example.com"}, "same_email"),
    ({"email": " Dana+Ref+2@EXAMPLE.COM"}, "same_email"),
])
def test_each_self_referral_rule_alone(theirs, rule):
    assert _rule(*_pair(**theirs)) == rule


def test_the_same_member_is_a_self_referral():
    mine, _theirs = _pair()
    assert _rule(mine, mine) == "same_member"


def test_the_same_portal_account_is_a_self_referral():
    (a, mine), (b, theirs) = _pair(user_id=7)
    assert _rule((a, mine), (b, theirs)) is None  # only the referee has an account
    mine.user_id = 7
    assert _rule((a, mine), (b, theirs)) == "same_account"


def test_rules_combined_answer_the_first_one():
    (a, mine), (b, theirs) = _pair(external_id="c-100", email="dana+x@example.com")
    assert _rule((a, mine), (b, theirs)) == "same_external_id"
    assert _rule((a, mine), (a, mine)) == "same_member"


@pytest.mark.parametrize(("typed", "normal"), [
    ("Dana+Promo@Example.COM", "dana@example.com"),
    ("dana@example.com", "dana@example.com"),
    ("dana+@example.com", "dana@example.com"),
    ("not-an-email", "not-an-email"),
])
def test_emails_are_compared_without_case_or_plus_tags(typed, normal):
    assert normalize_email(typed) == normal


# -- the guards, end to end -------------------------------------------------------------------


def test_a_friend_joining_with_the_code_is_attributed_as_pending(program, referrer, code,
                                                                 friend, clock):
    referral = referral_of(friend)

    assert (referral.referrer_id, referral.status, referral.channel) == (
        referrer.pk, "pending", "enrolment"
    )
    assert referral.expires_at == clock.now() + timedelta(days=30)
    event = OutboxEvent.objects.get(type="referral.attributed")
    assert (event.member_id, event.data["referral"]["id"]) == (referrer.pk, referral.pk)
    assert event.data["member"]["id"] == referrer.pk


def test_using_ones_own_code_is_a_self_referral(program, referrer, code, clock):
    with pytest.raises(SelfReferral) as caught:
        attribute(program, code, referrer, clock=clock)
    assert caught.value.extra["rule"] == "same_member"
    assert not Referral.objects.exists()


@pytest.mark.parametrize("email", ["dana.demo@example.com", "DANA.DEMO+friend@EXAMPLE.com"])
def test_a_second_customer_with_the_same_email_is_a_self_referral(program, code, clock, email):
    twin = MemberFactory(program=program, customer=CustomerFactory(
        merchant=program.merchant, external_id="C-999", email=email))

    with pytest.raises(SelfReferral) as caught:
        attribute(program, code, twin, clock=clock)
    assert caught.value.extra["rule"] == "same_email"


def test_a_second_customer_with_the_same_external_id_in_another_case_is_refused(
    program, code, clock
):
    twin = MemberFactory(program=program, customer=CustomerFactory(
        merchant=program.merchant, external_id="c-100", email=""))

    with pytest.raises(SelfReferral) as caught:
        attribute(program, code, twin, clock=clock)
    assert caught.value.extra["rule"] == "same_external_id"


def test_a_second_customer_on_the_same_portal_account_is_refused(program, referrer, code,
                                                                 clock):
    user = UserFactory()
    Customer.objects.filter(pk=referrer.customer_id).update(user=user)
    twin = MemberFactory(program=program, customer=CustomerFactory(
        merchant=program.merchant, email="other@example.com", user=user))

    with pytest.raises(SelfReferral) as caught:
        attribute(program, code, twin, clock=clock)
    assert caught.value.extra["rule"] == "same_account"


def test_referring_back_the_person_who_referred_you_is_refused(program, referrer, friend,
                                                              clock):
    friends_code, _ = services.referral_code_get_or_create(member=friend, clock=clock)

    with pytest.raises(SelfReferral) as caught:
        attribute(program, friends_code, referrer, clock=clock)
    assert caught.value.extra["rule"] == "circular"


def test_a_member_is_referred_once(program, friend, clock):
    second = MemberFactory(program=program)
    other_code, _ = services.referral_code_get_or_create(member=second, clock=clock)

    with pytest.raises(DuplicateReferral) as caught:
        attribute(program, other_code, friend, clock=clock)
    assert caught.value.extra["referral"] == referral_of(friend).pk
    assert caught.value.field == "member"


def test_a_source_attributes_once(program, code, clock):
    first, second = MemberFactory(program=program), MemberFactory(program=program)
    attribute(program, code, first, source="order-9", clock=clock)

    with pytest.raises(DuplicateReferral) as caught:
        attribute(program, code, second, source="order-9", clock=clock)
    assert caught.value.field == "source"
    assert Referral.objects.count() == 1


def test_a_member_who_ordered_before_is_not_a_new_customer(program, code, buy, clock):
    regular = MemberFactory(program=program)
    buy(regular, "30.00", order_id="old-1")

    with pytest.raises(RefereeNotEligible):
        attribute(program, code, regular, clock=clock)
    # ... unless the order is the one being attributed (checkout attribution after the sale)
    assert attribute(program, code, regular, source="old-1", clock=clock).attributed


def test_new_customers_only_can_be_switched_off(program, code, buy, clock):
    terms(program, new_customers_only=False)
    regular = MemberFactory(program=program)
    buy(regular, "30.00")

    assert attribute(program, code, regular, clock=clock).attributed


def test_an_inactive_referee_is_refused(program, code, clock):
    suspended = MemberFactory(program=program, status="suspended")
    with pytest.raises(MemberInactive):
        attribute(program, code, suspended, clock=clock)


def test_the_rate_limit_counts_a_sliding_window_moved_by_the_clock(program, code, clock):
    terms(program, limit_count=3, limit_period_days=7)
    for _ in range(3):
        assert attribute(program, code, MemberFactory(program=program), clock=clock).attributed
        clock.advance(days=1)

    # given: three referrals in the last 7 days (at day 0, 1 and 2; now is day 3)
    with pytest.raises(ReferralLimitExceeded) as caught:
        attribute(program, code, MemberFactory(program=program), clock=clock)
    assert caught.value.status == 429
    assert caught.value.extra["retry_at"] == (clock.now() + timedelta(days=4)).isoformat()

    clock.advance(days=3, seconds=59)  # day 6: all three still inside the window
    with pytest.raises(ReferralLimitExceeded):
        attribute(program, code, MemberFactory(program=program), clock=clock)

    clock.advance(days=1)  # day 7 and a minute: the first one has left the window
    assert attribute(program, code, MemberFactory(program=program), clock=clock).attributed
    with pytest.raises(ReferralLimitExceeded):
        attribute(program, code, MemberFactory(program=program), clock=clock)
    assert Referral.objects.count() == 4


def test_no_limit_when_the_program_sets_none(program, code, clock):
    terms(program, limit_count=None)
    for _ in range(12):
        assert attribute(program, code, MemberFactory(program=program), clock=clock).attributed


def test_guards_combined_answer_in_order(program, referrer, code, friend, clock):
    terms(program, limit_count=1)  # the friend used it up
    # self-referral and the limit: self-referral
    with pytest.raises(SelfReferral):
        attribute(program, code, referrer, clock=clock)
    # a duplicate and the limit: duplicate
    with pytest.raises(DuplicateReferral):
        attribute(program, code, friend, clock=clock)
    # a used source and the limit: duplicate
    fresh_member = MemberFactory(program=program)
    Referral.objects.filter(pk=referral_of(friend).pk).update(source="order-1")
    with pytest.raises(DuplicateReferral):
        attribute(program, code, fresh_member, source="order-1", clock=clock)
    # only the limit
    with pytest.raises(ReferralLimitExceeded):
        attribute(program, code, fresh_member, clock=clock)


# -- codes that attribute nothing, and never fail ---------------------------------------------


@pytest.mark.parametrize("typed", ["NOPE2345", "", "x" * 80, "\x00", "K7QX-😀"])
def test_an_unknown_code_attributes_nothing_and_writes_nothing(program, code, typed, clock):
    outcome = attribute(program, typed, MemberFactory(program=program), clock=clock)

    assert (outcome.attributed, outcome.reason) == (False, "unknown_code")
    assert not Referral.objects.exists()
    assert not OutboxEvent.objects.filter(type__startswith="referral.").exists()


def test_a_code_of_another_program_is_unknown_here(program, other_program, code, clock):
    stranger = MemberFactory(program=other_program)
    assert attribute(other_program, code, stranger, clock=clock).reason == "unknown_code"


def test_a_deactivated_code_attributes_nothing(program, code, clock):
    services.referral_code_deactivate(code=code, actor="t", clock=clock)
    outcome = attribute(program, code, MemberFactory(program=program), clock=clock)
    assert (outcome.attributed, outcome.reason) == (False, "inactive_code")


def test_switched_off_referrals_attribute_nothing(program, code, clock):
    terms(program, is_enabled=False)
    outcome = attribute(program, code, MemberFactory(program=program), clock=clock)
    assert (outcome.attributed, outcome.reason) == (False, "referrals_disabled")


def test_an_inactive_referrers_code_attributes_nothing(program, referrer, code, clock):
    member_set_status(member=referrer, status="suspended", clock=clock)
    outcome = attribute(program, code, MemberFactory(program=program), clock=clock)
    assert (outcome.attributed, outcome.reason) == (False, "referrer_inactive")
    assert not Referral.objects.exists()


def test_enrolment_with_a_bad_code_still_enrols_and_says_why(join):
    member, context = join("new-1", with_code="NOPE2345")

    assert Member.objects.filter(pk=member.pk).exists()
    assert context["referral"] == {
        "attributed": False, "reason": "unknown_code",
        "detail": "No such referral code in this program.", "referral": None, "status": None,
    }


def test_enrolment_refused_by_a_guard_still_enrols_and_says_why(join):
    member, context = join("new-2", email="dana.demo@example.com")

    assert Member.objects.filter(pk=member.pk).exists()
    assert (context["referral"]["attributed"], context["referral"]["reason"]) == (
        False, "self_referral"
    )
    assert not Referral.objects.exists()


def test_checkout_attribution_enrols_an_unknown_buyer_only_when_attributed(program, code,
                                                                          clock):
    outcome = services.referral_attribute_checkout(
        program=program, code=code.code, external_id="walk-in-1", source="till-1",
        actor="t", clock=clock,
    )
    assert outcome.attributed
    assert outcome.referral.referee.customer.external_id == "walk-in-1"

    before = Member.objects.count()
    services.referral_attribute_checkout(program=program, code="NOPE2345",
                                         external_id="walk-in-2", actor="t", clock=clock)
    assert Member.objects.count() == before


def test_a_refused_checkout_attribution_enrols_nobody(program, code, clock):
    Customer.objects.filter(external_id="C-100").update(email="")
    before = Member.objects.count()
    with pytest.raises(SelfReferral):
        services.referral_attribute_checkout(program=program, code=code.code,
                                             external_id="c-100 ", actor="t", clock=clock)
    assert Member.objects.count() == before
