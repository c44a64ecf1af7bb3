"""Read paths of the customer portal: a signed-in person's own enrolments, across merchants.

A customer can be known to several merchants; the portal shows all of their programs at once,
so these reads run with the tenant scope disabled and filter explicitly by the user instead.
Nothing here ever returns a row whose customer is not linked to ``user``.
"""

from __future__ import annotations

from django.db.models import QuerySet

from loyaltysite.errors import MemberNotFound
from loyaltysite.ids import parse_id

from .models import Member, Program, normalize_card_id


def member_list_for_user(*, user) -> QuerySet[Member]:
    """Every live enrolment of the customer records linked to ``user``."""
    members = Member.objects.with_scopes_disabled()
    if not getattr(user, "is_authenticated", False):
        return members.none()
    return (
        members.filter(customer__user=user, program__deleted_at__isnull=True)
        .select_related("program", "tier", "customer", "merchant")
        .order_by("merchant__name", "program__name", "id")
    )


def member_get_for_user(*, user, card_id: str) -> Member:
    """``user``'s enrolment with this card id; anyone else's answers ``MEMBER_NOT_FOUND``."""
    try:
        return member_list_for_user(user=user).get(card_id=normalize_card_id(card_id))
    except Member.DoesNotExist:
        raise MemberNotFound(field="card_id") from None


def program_open_for_sign_up(*, program_id: object) -> Program | None:
    """A live, active program anyone may join from the portal (``None`` otherwise)."""
    pk = parse_id(program_id)
    if pk is None:
        return None
    return (
        Program.objects.with_scopes_disabled()
        .select_related("merchant")
        .filter(pk=pk, deleted_at__isnull=True, is_active=True, merchant__is_active=True)
        .first()
    )
