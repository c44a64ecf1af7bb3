"""Factories for the rewards suites."""

from __future__ import annotations

import factory

from rewards.models import Reward
from tests.factories import ProgramFactory


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    program = factory.SubFactory(ProgramFactory)
    merchant = factory.SelfAttribute("program.merchant")
    name = factory.Sequence(lambda n: f"Reward {n}")
    points_cost = 100
    kind = Reward.Kind.FREE_PRODUCT
