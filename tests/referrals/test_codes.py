"""Referral codes: one per member, the same on every request, short and unambiguous; deactivate
and regenerate."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from loyaltysite.errors import MemberInactive
from members.services import member_set_status
from referrals import services
from referrals.models import CODE_ALPHABET, CODE_LENGTH, ReferralCode, normalize_referral_code

from ..factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_a_first_request_creates_a_short_unambiguous_code(referrer, clock):
    code, created = services.referral_code_get_or_create(member=referrer, clock=clock)

    assert created
    assert len(code.code) == CODE_LENGTH
    assert set(code.code) <= set(CODE_ALPHABET)
    assert not set(code.code) & set("01ILOUV")
    assert (code.member_id, code.program_id, code.merchant_id, code.is_active) == (
        referrer.pk, referrer.program_id, referrer.merchant_id, True
    )


def test_asking_again_returns_the_same_code(referrer, clock):
    first, _ = services.referral_code_get_or_create(member=referrer, clock=clock)
    again, created = services.referral_code_get_or_create(member=referrer, clock=clock)

    assert (again.pk, again.code, created) == (first.pk, first.code, False)
    assert ReferralCode.objects.count() == 1


def test_each_member_gets_their_own_code(program, clock):
    codes = {
        services.referral_code_get_or_create(member=MemberFactory(program=program),
                                             clock=clock)[0].code
        for _ in range(20)
    }
    assert len(codes) == 20


def test_a_deactivated_code_stays_off_until_regenerated(referrer, code, clock):
    services.referral_code_deactivate(code=code, actor="staff:1", clock=clock)

    again, created = services.referral_code_get_or_create(member=referrer, clock=clock)

    assert (again.pk, again.is_active, created) == (code.pk, False, False)
    assert again.deactivated_by == "staff:1"
    assert again.deactivated_at == clock.now()


def test_regenerating_switches_the_old_code_off_and_issues_a_new_one(referrer, code, clock):
    new = services.referral_code_regenerate(member=referrer, actor="api-key:x", clock=clock)

    old = ReferralCode.objects.get(pk=code.pk)
    assert (new.is_active, old.is_active) == (True, False)
    assert new.code != old.code
    assert services.referral_code_get_or_create(member=referrer, clock=clock)[0] == new


def test_an_inactive_member_gets_no_first_code(referrer, clock):
    member_set_status(member=referrer, status="suspended", clock=clock)

    with pytest.raises(MemberInactive):
        services.referral_code_get_or_create(member=referrer, clock=clock)
    with pytest.raises(MemberInactive):
        services.referral_code_regenerate(member=referrer, actor="t", clock=clock)
    assert not ReferralCode.objects.exists()


def test_the_database_refuses_a_second_active_code_and_a_reused_code(referrer, code, clock):
    other = MemberFactory(program=referrer.program)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralCode.objects.create(merchant=referrer.merchant, program=referrer.program,
                                    member=referrer, created_at=clock.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferralCode.objects.create(merchant=other.merchant, program=other.program,
                                    member=other, code=code.code, created_at=clock.now())


@pytest.mark.parametrize("typed", ["k7qx-9m2p", " K7QX 9M2P ", "K7QX9M2P"])
def test_codes_are_accepted_in_any_case_with_spaces_and_dashes(typed):
    assert normalize_referral_code(typed) == "K7QX9M2P"
