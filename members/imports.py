"""Bulk write paths for imports (SPEC 13: CSV import of customers and members).

A merchant moving from another platform brings tens of thousands of customers at once, so
these are set-based: the merchant's existing customers and members are read in one query per
5,000 external ids, the missing ones are inserted from arrays (``loyaltysite.bulk``), and the
``member.enrolled`` events go to the outbox in one batch (``events.outbox.emit_numbered``). The
enrolment hooks (``members.hooks``) hear each new member as ``member_enrol`` would tell them,
in the same transaction. An imported member gets no welcome award: they joined the program
on the platform they come from. Points come separately, through the ledger
(``ledger.services.points_open_bulk``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from events.outbox import emit_numbered, member_figures
from loyaltysite.bulk import insert_rows, rows_where_in
from loyaltysite.clock import Clock, system_clock

from . import hooks
from .models import CARD_ALPHABET, CARD_ID_LENGTH, Customer, Member, Merchant, Program

CHUNK = 5000


def _card_id() -> str:
    """``new_card_id``'s 80 random bits from one call to the system's random source, not one
    per character (an import makes 100,000 of them)."""
    value = int.from_bytes(secrets.token_bytes(10), "big")
    return "".join(CARD_ALPHABET[(value >> (5 * i)) & 31] for i in range(CARD_ID_LENGTH))


@dataclass(frozen=True)
class CustomerRow:
    external_id: str
    email: str = ""
    name: str = ""
    birthday: date | None = None


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def customers_by_external_id(*, merchant_id: int, external_ids: Iterable[str]) -> dict[str, int]:
    """The merchant's customers among ``external_ids``: ``{external_id: customer id}``."""
    return dict(rows_where_in(Customer, ("external_id", "id"),
                              among=("external_id", sorted(set(external_ids))),
                              equal={"merchant_id": merchant_id}))


def members_by_customer(*, program: Program, customer_ids: Iterable[int]) -> dict[int, int]:
    """The program's members among ``customer_ids``: ``{customer id: member id}``."""
    return dict(rows_where_in(Member, ("customer_id", "id"),
                              among=("customer_id", sorted(set(customer_ids))),
                              equal={"program_id": program.pk}))


@transaction.atomic
def customers_import(
    *, merchant_id: int, rows: list[CustomerRow], clock: Clock = system_clock
) -> dict[str, int]:
    """Create the customers of ``rows`` the merchant does not know yet (by external id) and
    fill blank fields of those it knows, as ``customer_get_or_create`` does one by one.
    Returns every row's customer id by external id.

    Imports of one merchant take turns (its row locked ``FOR NO KEY UPDATE``, which leaves
    the merchant's other writes alone): two racing on the same new external ids would
    otherwise both insert them, and the second fail on the unique constraint."""
    Merchant._base_manager.select_for_update(no_key=True).filter(pk=merchant_id).first()
    existing = customers_by_external_id(
        merchant_id=merchant_id, external_ids=[r.external_id for r in rows]
    )
    known = [r for r in rows if r.external_id in existing]
    if known:
        _fill_blanks(merchant_id, known, existing)
    new = [r for r in rows if r.external_id not in existing]
    now = clock.now()
    created = insert_rows(Customer, {
        "external_id": [r.external_id for r in new], "email": [r.email for r in new],
        "name": [r.name for r in new], "birthday": [r.birthday for r in new],
    }, same={"merchant_id": merchant_id, "created_at": now}, returning=("id", "external_id"))
    existing.update((external_id, pk) for pk, external_id in created)
    return existing


def _fill_blanks(merchant_id: int, rows: list[CustomerRow], ids: dict[str, int]) -> None:
    by_id = {ids[r.external_id]: r for r in rows}
    changed = []
    for chunk in _chunks(sorted(by_id)):
        for customer in Customer._base_manager.filter(merchant_id=merchant_id, pk__in=chunk):
            row = by_id[customer.pk]
            touched = False
            for field in ("email", "name", "birthday"):
                value = getattr(row, field)
                if value and not getattr(customer, field):
                    setattr(customer, field, value)
                    touched = True
            if touched:
                changed.append(customer)
    if changed:
        Customer._base_manager.bulk_update(changed, ["email", "name", "birthday"],
                                           batch_size=CHUNK)


@transaction.atomic
def members_import(
    *, program: Program, rows: list[CustomerRow], clock: Clock = system_clock
) -> dict[str, int]:
    """Enrol the customers of ``rows`` in ``program`` (creating the customers the merchant
    does not know), set-based; customers enrolled already keep their membership. Returns
    every row's member id by external id."""
    customer_ids = customers_import(merchant_id=program.merchant_id, rows=rows, clock=clock)
    enrolled = members_by_customer(program=program, customer_ids=customer_ids.values())
    now = clock.now()
    todo = sorted(set(customer_ids.values()) - set(enrolled))
    # Each new member's first event is its enrolment: the rows are written numbered (sequence
    # 1) and the events carry the figures of a new member, so no row is written twice.
    created = insert_rows(Member, {
        "customer_id": todo, "card_id": [_card_id() for _ in todo],
    }, same={"merchant_id": program.merchant_id, "program_id": program.pk, "enrolled_at": now,
             "event_sequence": 1},
        returning=("id", "customer_id", "card_id"))
    by_customer = {customer_ids[r.external_id]: r for r in rows}
    new = []
    for pk, customer_id, card_id in created:
        row = by_customer[customer_id]
        member = Member(id=pk, merchant_id=program.merchant_id, program_id=program.pk,
                        customer_id=customer_id, card_id=card_id, enrolled_at=now,
                        event_sequence=1)
        member.customer = Customer(id=customer_id, merchant_id=program.merchant_id,
                                   external_id=row.external_id, email=row.email, name=row.name)
        member.program = program
        new.append(member)
    if new:
        emit_numbered(
            "member.enrolled", merchant_id=program.merchant_id, program_id=program.pk,
            clock=clock, events=[
                (m.pk, 1, {"customer": {"external_id": m.customer.external_id,
                                        "email": m.customer.email, "name": m.customer.name},
                           "member": member_figures(m)})
                for m in new
            ],
        )
        for member in new:
            hooks.member_enrolled(member, {})
    enrolled.update((m.customer_id, m.pk) for m in new)
    return {external_id: enrolled[cid] for external_id, cid in customer_ids.items()}
