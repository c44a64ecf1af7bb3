"""Exports from the console: members, customers, ledger entries and orders (SPEC 13)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.contrib import admin

from ledger.models import Entry
from ledger.services import points_adjust
from members.models import Customer, Member
from rules.models import Order
from rules.services import Customer as Who
from rules.services import order_record

from .conftest import import_members

pytestmark = pytest.mark.django_db


def export(client, model) -> list[dict]:
    opts = model._meta
    formats = admin.site._registry[model].get_export_formats()
    index = next(i for i, f in enumerate(formats) if f.__name__ == "CSV")
    response = client.post(
        f"/admin/{opts.app_label}/{opts.model_name}/export/",
        {"format": str(index), "resource": "0", "export_items": []},
    )
    assert response.status_code == 200, response.content[:500]
    body = b"".join(response) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_members_export_has_the_imported_members_and_their_points(owner_client, program, rows,
                                                                  clock, other_member):
    import_members(owner_client, rows)

    exported = export(owner_client, Member)

    assert sorted((r["external_id"], r["balance"]) for r in exported) == [
        ("C-1", "120"), ("C-2", "0"), ("C-3", "75")
    ]
    first = next(r for r in exported if r["external_id"] == "C-1")
    assert first["program"] == program.name
    assert first["email"] == "ada@example.com"
    assert len(first["card_id"]) == 19  # printed form, XXXX-XXXX-XXXX-XXXX


def test_entries_export_is_the_merchants_ledger_only(owner_client, member, other_member, clock):
    points_adjust(member=member, points=30, reason="goodwill", actor="test")
    points_adjust(member=other_member, points=99, reason="rival", actor="test")

    exported = export(owner_client, Entry)

    assert [(r["kind"], r["points"], r["reason"]) for r in exported] == [
        ("adjust", "30", "goodwill")
    ]
    assert exported[0]["card_id"] == member.card_id_display


def test_orders_export_writes_money_in_minor_units(owner_client, member, other_member, clock):
    order_record(program=member.program, customer=Who(member=str(member.pk)), order_id="A-1",
                 amount=Decimal("12.5"), currency="EUR", actor="test")
    order_record(program=other_member.program, customer=Who(member=str(other_member.pk)),
                 order_id="R-1",
                 amount=Decimal("99"), currency="EUR", actor="test")

    exported = export(owner_client, Order)

    assert [(r["order_id"], r["amount"], r["amount_refunded"]) for r in exported] == [
        ("A-1", "12.50", "0.00")
    ]
    assert exported[0]["points_earned"] == str(Order.objects.get(order_id="A-1").points_earned)


def test_customers_import_then_export(owner_client, merchant, other_merchant, clock):
    from tests.factories import CustomerFactory

    CustomerFactory(merchant=other_merchant, external_id="THEIRS")
    columns = ["external_id", "email", "name", "birthday"]
    import_members(owner_client, [
        {"external_id": "K-1", "email": "k1@example.com", "name": "Kay"},
        {"external_id": "K-2", "birthday": "2001-02-03"},
    ], model=Customer, columns=columns)

    exported = export(owner_client, Customer)

    assert sorted(r["external_id"] for r in exported) == ["K-1", "K-2"]
    assert Customer.objects.filter(merchant=merchant).count() == 2
