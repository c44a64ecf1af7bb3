"""A demo merchant with staff and customer logins, a program and members with history.

Idempotent: a second run finds everything in place, adds no history, and prints the logins
and a fresh API key (keys are stored hashed, so an old one cannot be shown again; earlier demo
keys are revoked).

Time order: each member's entries are posted in the order of their dates, so the balance after
each entry reads as a running balance. The apps' configuration comes first (``prepare_demo``:
the tier ladder, the earning rules), then each member joins and earns over an older stretch
(``HISTORY_START_DAYS`` ago until ``HISTORY_END_DAYS`` ago), and only then the apps write their
more recent history (``seed_demo``: tiers' streaks from six weeks ago, rules' orders from four,
rewards and referrals now).
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django_scopes import scopes_disabled

from ledger import services as ledger
from ledger.models import Entry
from loyaltysite.clock import FrozenClock, system_clock, use_clock
from members.models import Member, MerchantAPIKey, Program, StaffMembership
from members.services import (
    api_key_create,
    customer_get_or_create,
    member_enrol,
    member_welcome,
    merchant_create,
    staff_attach,
)

DEMO_APPS = ["tiers", "rules", "rewards", "referrals", "events"]  # tiers first: orders lift members
HISTORY_START_DAYS = 160  # enrolment and the welcome gift
HISTORY_END_DAYS = 60  # the older history is spendable by then; the apps' demos begin after
PASSWORD = "demo-pass-2026"
LOGINS = [
    ("owner@demo.test", "Owner (merchant console, /admin/)"),
    ("manager@demo.test", "Manager (merchant console, /admin/)"),
    ("customer@demo.test", "Customer (portal, /)"),
]
CUSTOMERS = [
    ("cust-1001", "customer@demo.test", "Dana Demo"),
    ("cust-1002", "ali@example.com", "Ali Rahman"),
    ("cust-1003", "bea@example.com", "Bea Lindqvist"),
    ("cust-1004", "chen@example.com", "Chen Wei"),
    ("cust-1005", "dario@example.com", "Dario Rossi"),
    ("cust-1006", "eve@example.com", "Eve Martin"),
    ("cust-1007", "femi@example.com", "Femi Adeyemi"),
    ("cust-1008", "gita@example.com", "Gita Sharma"),
]


class Command(BaseCommand):
    help = "Load (idempotently) a demo merchant, logins, a program and members with history."

    def handle(self, *args, **options):
        with scopes_disabled():
            raw_key, program = self._load()
        self.stdout.write(self.style.SUCCESS("Demo merchant 'demo' is ready."))
        self.stdout.write(f"Program: {program.name} (id {program.pk}, {program.currency})")
        self.stdout.write(f"Logins (password for all: {PASSWORD}):")
        for username, role in LOGINS:
            self.stdout.write(f"  {username:<22} {role}")
        self.stdout.write("API: curl -H 'Authorization: Api-Key <key>' "
                          "http://127.0.0.1:8000/api/v1/programs/")
        self.stdout.write("Docs: http://127.0.0.1:8000/api/docs/")
        self.stdout.write(f"API key: {raw_key}")

    @transaction.atomic
    def _load(self) -> tuple[str, Program]:
        merchant, _ = merchant_create(
            slug="demo", name="Demo Coffee Co.", owner_email="owner@demo.test",
            owner_password=PASSWORD,
        )
        users = get_user_model().objects
        manager, _ = users.get_or_create(
            username="manager@demo.test", defaults={"email": "manager@demo.test"}
        )
        manager.set_password(PASSWORD)
        manager.save()
        staff_attach(user=manager, merchant=merchant, role=StaffMembership.Role.MANAGER)
        customer_user, _ = users.get_or_create(
            username="customer@demo.test", defaults={"email": "customer@demo.test"}
        )
        customer_user.set_password(PASSWORD)
        customer_user.save()

        program, _ = Program.objects.get_or_create(
            merchant=merchant, name="Demo Rewards", deleted_at=None,
            defaults={
                "currency": "EUR", "earn_rate": Decimal("1"), "point_value": Decimal("0.01"),
                "pending_days": 14, "expiry_policy": Program.ExpiryPolicy.AFTER_EARN,
                "expiry_months": 12, "min_redeem_points": 100, "max_redeem_percent": 50,
                "time_zone": "Europe/Berlin", "language": "en-gb",
            },
        )
        modules = [m for m in map(_demo_module, DEMO_APPS) if m is not None]
        for module in modules:
            if hasattr(module, "prepare_demo"):
                module.prepare_demo(merchant=merchant, program=program)
        joined = FrozenClock(system_clock.now() - timedelta(days=HISTORY_START_DAYS))
        members = []
        fresh = []
        for external_id, email, name in CUSTOMERS:
            customer = customer_get_or_create(
                merchant=merchant, external_id=external_id, email=email, name=name,
                user=customer_user if email == "customer@demo.test" else None,
            )
            member = Member.objects.filter(program=program, customer=customer).first()
            if member is None:
                member = member_enrol(program=program, customer=customer, clock=joined)
                fresh.append(member)
            members.append(member)
        for member in fresh:
            if not Entry.objects.filter(member=member).exists():
                self._history(member, index=members.index(member))
        for module in modules:
            module.seed_demo(merchant=merchant, program=program, members=members,
                             clock=system_clock)
        MerchantAPIKey.objects.filter(merchant=merchant, name="demo", revoked=False).update(
            revoked=True
        )
        _, raw_key = api_key_create(merchant=merchant, name="demo")
        return raw_key, program

    def _history(self, member: Member, *, index: int) -> None:
        """Earning and spending from enrolment until ``HISTORY_END_DAYS`` ago, written through
        the ledger as it happened, in date order."""
        end = system_clock.now() - timedelta(days=HISTORY_END_DAYS)
        clock = FrozenClock(member.enrolled_at)
        with use_clock(clock):
            member_welcome(member=member, clock=clock)
            for week in range(12):
                clock.advance(days=7)
                points = 40 + (index * 17 + week * 23) % 160
                ledger.points_credit(
                    member=member, points=points, actor="system:demo",
                    reason="In-store purchase", reference=f"demo-{member.pk}-{week}",
                    pending_days=14,
                )
                if week % 4 == 3:
                    ledger.points_make_available(member=member)
                    fresh = Member.objects.get(pk=member.pk)
                    if fresh.balance >= 100:
                        ledger.points_debit(
                            member=member, points=100, actor="system:demo",
                            reason="Free coffee", reference=f"demo-redeem-{member.pk}-{week}",
                        )
            if index % 3 == 0:
                clock.advance(days=1)
                ledger.points_adjust(
                    member=member, points=50, actor="system:demo",
                    reason="Goodwill: order arrived late",
                )
            clock.set(end)
            ledger.points_make_available(member=member)


def _demo_module(app: str):
    try:
        return importlib.import_module(f"{app}.demo")
    except ModuleNotFoundError:
        return None
