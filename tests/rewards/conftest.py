"""Fixtures for the rewards suites: a funded member, a catalog reward, a tier pair."""

from __future__ import annotations

import pytest

from ledger import services as ledger
from members.models import Member
from tiers.models import Tier

from .factories import RewardFactory


def fund(member: Member, points: int) -> Member:
    ledger.points_credit(member=member, points=points, actor="test", reason="test funds")
    return Member.objects.get(pk=member.pk)


@pytest.fixture
def funded(member, clock):
    """``member`` with 1000 spendable points."""
    return fund(member, 1000)


@pytest.fixture
def reward(program):
    return RewardFactory(program=program, name="Free coffee", points_cost=100)


@pytest.fixture
def other_reward(other_program):
    return RewardFactory(program=other_program, name="Rival tea", points_cost=100)


@pytest.fixture
def tiers(program):
    silver = Tier.objects.create(merchant=program.merchant, program=program, name="Silver", rank=1)
    gold = Tier.objects.create(merchant=program.merchant, program=program, name="Gold", rank=2)
    return silver, gold
