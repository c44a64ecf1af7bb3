"""Tenancy, programs, customers and members: the members app's services."""

from __future__ import annotations

import pytest
from django_scopes import ScopeError, scope

from loyaltysite.errors import InvalidTransition, MemberAlreadyEnrolled, ValidationFailed
from members.models import CARD_ALPHABET, Customer, Member, StaffMembership, normalize_card_id
from members.services import (
    customer_get_or_create,
    member_enrol,
    member_enrol_customer,
    member_get_or_enrol,
    member_set_status,
    program_create,
    staff_attach,
)

from ..factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_card_ids_are_unguessable_unique_and_printable(program):
    cards = {MemberFactory(program=program).card_id for _ in range(200)}

    assert len(cards) == 200
    for card in cards:
        assert len(card) == 16
        assert set(card) <= set(CARD_ALPHABET)


def test_card_id_lookup_forgives_how_people_type_it():
    assert normalize_card_id("ab12-cd34 ef56-gh7o") == "AB12CD34EF56GH70"


def test_external_ids_are_unique_per_merchant_not_across_merchants(merchant, other_merchant):
    first = customer_get_or_create(merchant=merchant, external_id="c-1", email="a@example.com")
    again = customer_get_or_create(merchant=merchant, external_id="c-1", name="Ann")
    elsewhere = customer_get_or_create(merchant=other_merchant, external_id="c-1")

    assert first.pk == again.pk
    assert again.name == "Ann"  # blank fields are filled in, nothing is overwritten
    assert elsewhere.pk != first.pk
    assert Customer.objects.filter(external_id="c-1").count() == 2


def test_a_customer_is_enrolled_once_per_program(program, customer, clock):
    member_enrol(program=program, customer=customer)

    with pytest.raises(MemberAlreadyEnrolled):
        member_enrol(program=program, customer=customer)


def test_get_or_enrol_enrols_only_the_first_time(program, clock):
    first, created = member_get_or_enrol(program=program, external_id="auto-1")
    second, created_again = member_get_or_enrol(program=program, external_id="auto-1")

    assert (created, created_again) == (True, False)
    assert first.pk == second.pk
    assert first.enrolled_at == clock.now()


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("active", "suspended", True),
        ("active", "inactive", True),
        ("suspended", "active", True),
        ("suspended", "inactive", True),
        ("inactive", "active", True),
        ("inactive", "suspended", False),
    ],
)
def test_member_status_transitions(program, clock, start, target, allowed):
    member = member_enrol_customer(program=program, external_id="s-1")
    Member.objects.filter(pk=member.pk).update(status=start)

    if allowed:
        changed = member_set_status(member=member, status=target)
        assert changed.status == target
        assert changed.status_changed_at == clock.now()
    else:
        with pytest.raises(InvalidTransition):
            member_set_status(member=member, status=target)


def test_roles_are_django_groups_with_the_right_permissions(merchant):
    owner, manager = UserFactory(), UserFactory()
    staff_attach(user=owner, merchant=merchant, role=StaffMembership.Role.OWNER)
    staff_attach(user=manager, merchant=merchant, role=StaffMembership.Role.MANAGER)

    assert owner.has_perm("members.change_program")
    assert owner.has_perm("members.add_merchantapikey")
    assert manager.has_perm("members.view_program")
    assert not manager.has_perm("members.change_program")
    assert not manager.has_perm("members.add_merchantapikey")
    assert manager.has_perm("ledger.adjust_points")
    assert not manager.has_perm("ledger.change_entry")


def test_changing_a_users_role_replaces_the_old_one(merchant):
    user = UserFactory()
    staff_attach(user=user, merchant=merchant, role=StaffMembership.Role.OWNER)
    staff_attach(user=user, merchant=merchant, role=StaffMembership.Role.MANAGER)

    user = type(user).objects.get(pk=user.pk)
    assert list(user.groups.values_list("name", flat=True)) == ["Manager"]
    assert not user.has_perm("members.change_program")


@pytest.mark.scoped
def test_a_query_outside_any_merchant_scope_raises(member):
    with pytest.raises(ScopeError):
        list(Member.objects.all())
    with scope(merchant=member.merchant_id):
        assert list(Member.objects.all()) == [member]
    with scope(merchant=member.merchant_id + 1000):
        assert list(Member.objects.all()) == []


def test_a_program_refuses_an_unknown_time_zone(merchant):
    with pytest.raises(ValidationFailed) as refused:
        program_create(merchant=merchant, name="Zoned", currency="EUR", time_zone="Mars/Base")
    assert refused.value.field == "time_zone"


def test_a_program_keeps_its_time_zone(merchant):
    program = program_create(merchant=merchant, name="Zoned", currency="EUR",
                             time_zone="Europe/Berlin")
    assert str(program.tz) == "Europe/Berlin"


@pytest.mark.parametrize(("currency", "language"), [("EUR", "en-gb"), ("GBP", "en-gb"),
                                                    ("USD", "en")])
def test_a_new_program_writes_dates_as_its_currencys_customers_do(merchant, currency, language):
    program = program_create(merchant=merchant, name=f"Club {currency}", currency=currency)
    assert program.language == language


def test_a_new_program_keeps_the_language_it_is_given(merchant):
    program = program_create(merchant=merchant, name="Club", currency="EUR", language="de")
    assert program.language == "de"
