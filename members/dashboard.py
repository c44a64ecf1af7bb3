"""The console's dashboard (django-unfold): headline figures for the staff user's merchant.

Everything here runs inside the request's tenant scope (``members.middleware``), so a staff
user's figures are their merchant's; the operator's are the whole platform's. The context is
shaped for ``templates/admin/index.html``: ``kpis`` (cards), ``program_table`` and
``recent_table`` (unfold table components). Analytics (SPEC 12) add charts beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from ledger.models import Entry
from loyaltysite.clock import Clock, system_clock

from .models import Member, Program

RECENT_DAYS = 30
RECENT_ENTRIES = 10

# Tables other apps add to the dashboard (``members`` imports no consumer): each function takes
# the request and answers ``{"title": ..., "table": {"headers": [...], "rows": [...]}}`` or
# ``None``, in the request's tenant scope.
DASHBOARD_TABLES: list[tuple[Callable[[Any], dict[str, Any] | None], int]] = []


def dashboard_table_register(table: Callable[[Any], dict[str, Any] | None], *,
                             order: int = 50) -> None:
    """Show ``table(request)`` on the dashboard (idempotent per function)."""
    if all(fn is not table for fn, _order in DASHBOARD_TABLES):
        DASHBOARD_TABLES.append((table, order))


def _n(value: int | Decimal) -> str:
    return number_format(value, force_grouping=True)


def dashboard_figures(*, clock: Clock = system_clock) -> dict[str, Any]:
    """The merchant's headline figures (for the merchant the current scope names)."""
    members = Member.objects.filter(program__deleted_at__isnull=True).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=Member.Status.ACTIVE)),
        outstanding=Coalesce(Sum("balance"), 0),
        pending=Coalesce(Sum("pending_points"), 0),
        reserved=Coalesce(Sum("reserved_points"), 0),
    )
    since = clock.now() - timedelta(days=RECENT_DAYS)
    moved = Entry.objects.filter(created_at__gte=since).aggregate(
        issued=Coalesce(Sum("points", filter=Q(kind=Entry.Kind.EARN) | Q(
            kind=Entry.Kind.ADJUST, points__gt=0)), 0),
        redeemed=Coalesce(Sum("points", filter=Q(kind=Entry.Kind.REDEEM)), 0),
        expired=Coalesce(Sum("points", filter=Q(kind=Entry.Kind.EXPIRE)), 0),
    )
    return {
        "programs": Program.objects.filter(deleted_at__isnull=True).count(),
        **members,
        "issued_recent": moved["issued"],
        "redeemed_recent": -moved["redeemed"],
        "expired_recent": -moved["expired"],
    }


def program_rows() -> list[dict[str, Any]]:
    """Per live program: members, active members, points outstanding and their worth."""
    programs = (
        Program.objects.filter(deleted_at__isnull=True)
        .annotate(
            member_total=Count("members"),
            member_active=Count("members", filter=Q(members__status=Member.Status.ACTIVE)),
            outstanding=Coalesce(Sum("members__balance"), 0),
        )
        .order_by("name")
    )
    return [
        {
            "program": program,
            "members": program.member_total,
            "active": program.member_active,
            "outstanding": program.outstanding,
            "liability": (Decimal(program.outstanding) * program.point_value).quantize(
                Decimal("0.01")
            ),
        }
        for program in programs
    ]


def dashboard_callback(request, context):
    figures = dashboard_figures()
    programs = program_rows()
    recent = Entry.objects.select_related("member__customer", "program").order_by("-id")[
        :RECENT_ENTRIES
    ]
    extra_tables = [
        table for fn, _order in sorted(DASHBOARD_TABLES, key=lambda t: t[1])
        if (table := fn(request)) is not None
    ]
    context.update(
        {
            "title": _("Dashboard"),
            "extra_tables": extra_tables,
            "figures": figures,
            "kpis": [
                {
                    "title": _("Members"),
                    "value": _n(figures["total"]),
                    "footer": _("%(active)s active") % {"active": _n(figures["active"])},
                    "href": reverse("admin:members_member_changelist"),
                },
                {
                    "title": _("Points outstanding"),
                    "value": _n(figures["outstanding"]),
                    "footer": _("%(pending)s pending, %(reserved)s reserved") % {
                        "pending": _n(figures["pending"]), "reserved": _n(figures["reserved"]),
                    },
                },
                {
                    "title": _("Issued, last %(days)d days") % {"days": RECENT_DAYS},
                    "value": _n(figures["issued_recent"]),
                    "footer": _("earned and added by adjustments"),
                },
                {
                    "title": _("Redeemed, last %(days)d days") % {"days": RECENT_DAYS},
                    "value": _n(figures["redeemed_recent"]),
                    "footer": _("%(expired)s expired") % {"expired": _n(figures["expired_recent"])},
                },
            ],
            "program_table": {
                "headers": [
                    _("Program"), _("Members"), _("Active"), _("Outstanding points"),
                    _("Liability"),
                ],
                "rows": [
                    [
                        format_html(
                            '<a href="{}" class="text-primary-600 dark:text-primary-500">{}</a>',
                            reverse("admin:members_program_change", args=[row["program"].pk]),
                            row["program"].name,
                        ),
                        _n(row["members"]),
                        _n(row["active"]),
                        _n(row["outstanding"]),
                        f"{_n(row['liability'])} {row['program'].currency}",
                    ]
                    for row in programs
                ],
            },
            "recent_table": {
                "headers": [_("When"), _("Card"), _("Kind"), _("Points"), _("Reason")],
                "rows": [
                    [
                        date_format(entry.created_at, "SHORT_DATETIME_FORMAT"),
                        format_html(
                            '<a href="{}" class="font-mono text-primary-600 whitespace-nowrap '
                            'dark:text-primary-500">{}</a>',
                            reverse("admin:members_member_change", args=[entry.member_id]),
                            entry.member.card_id_display,
                        ),
                        entry.get_kind_display(),
                        f"{entry.points:+d}",
                        entry.reason,
                    ]
                    for entry in recent
                ],
            },
        }
    )
    return context


def environment_callback(request):
    return ["Development", "warning"] if settings.DEBUG else ["Production", "danger"]
