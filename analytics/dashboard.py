"""The analytics part of the console's dashboard (``members.dashboard`` calls ``add_analytics``).

A form picks the program and the period; the page shows figure cards, two charts (points per
month, the tier mix) and every table of ``analytics.tables``, each with a CSV export link.
Chart data goes to the page through ``json_script`` and ``static/analytics/dashboard.js``
draws it with the Chart.js that django-unfold ships (no inline script).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from loyaltysite.formatting import money_display
from loyaltysite.ids import parse_id
from members.models import Program

from .selectors import PERIODS, Analytics, Standing, live_programs, program_analytics
from .selectors import program_standing as standing_of
from .tables import Month, Percent, Table, analytics_tables, as_unfold, display_cell, programs_table

CHART_COLOURS = {"issued": "#16a34a", "redeemed": "#2563eb", "expired": "#dc2626"}


def period_from(value: Any) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return PERIODS[0]
    return days if days in PERIODS else PERIODS[0]


def export_url(program: Program, table: str, period: int) -> str:
    return (reverse("admin:analytics_export", args=[program.pk, table])
            + "?" + urlencode({"period": period}))


def _card(table: Table, program: Program | None, period: int) -> dict[str, Any]:
    href = (export_url(program, table.name, period) if program is not None
            else reverse("admin:analytics_export_programs"))
    return {
        "name": table.name,
        "title": table.title,
        "table": as_unfold(table),
        "action": format_html(
            '<a href="{}" class="text-primary-600 text-sm dark:text-primary-500" '
            'download>{}</a>', href, _("Export CSV"),
        ),
    }


def _n(value: int) -> str:
    return number_format(value, force_grouping=True)


def points_chart(a: Analytics) -> dict[str, Any]:
    months = a.months()
    return {
        "type": "bar",
        "labels": [display_cell(Month(m["month"])) for m in months],
        "datasets": [
            {"label": label, "data": [m[name] for m in months],
             "backgroundColor": CHART_COLOURS[name]}
            for name, label in (("issued", _("Issued")), ("redeemed", _("Redeemed")),
                                ("expired", _("Expired")))
        ],
    }


def tiers_chart(standing: Standing) -> dict[str, Any]:
    return {
        "type": "doughnut",
        "labels": [line["name"] or _("No tier") for line in standing.tiers],
        "datasets": [{
            "label": _("Members"),
            "data": [line["members"] for line in standing.tiers],
            "backgroundColor": [line["colour"] for line in standing.tiers],
        }],
    }


def kpis(a: Analytics) -> list[dict[str, Any]]:
    s, currency = a.standing, a.program.currency
    rate = display_cell(Percent(a.redemption_rate))
    return [
        {"title": _("Members"), "value": _n(s.members),
         "footer": _("%(new)s new in %(days)s days; active: %(a30)s in 30 days, %(a90)s in 90")
         % {"new": _n(a.total("enrolled")), "days": a.days, "a30": _n(s.active_30),
            "a90": _n(s.active_90)},
         "href": reverse("admin:members_member_changelist")},
        {"title": _("Points issued, %(days)s days") % {"days": a.days},
         "value": _n(a.total("issued")),
         "footer": _("%(expired)s expired") % {"expired": _n(a.total("expired"))}},
        {"title": _("Points redeemed, %(days)s days") % {"days": a.days},
         "value": _n(a.total("redeemed")),
         "footer": _("redemption rate %(rate)s") % {"rate": rate}},
        {"title": _("Liability"), "value": money_display(s.liability, currency),
         "footer": _("%(spendable)s spendable, %(pending)s pending, %(reserved)s reserved")
         % {"spendable": _n(s.spendable), "pending": _n(s.pending),
            "reserved": _n(s.reserved)}},
    ]


def add_analytics(request: Any, context: dict[str, Any]) -> None:
    """Fill the dashboard's figures for the program and period the query string picks."""
    programs = live_programs()
    period = period_from(request.GET.get("period"))
    wanted = parse_id(request.GET.get("program", ""))
    selected = next((p for p in programs if p.pk == wanted), programs[0] if programs else None)
    analytics = program_analytics(program=selected, days=period) if selected else None
    standings = [
        analytics.standing if analytics and p.pk == selected.pk else standing_of(program=p)
        for p in programs
    ]
    context.update({
        "figures": {
            "total": sum(s.members for s in standings),
            "active": sum(s.active_status for s in standings),
            "outstanding": sum(s.spendable for s in standings),
            "pending": sum(s.pending for s in standings),
            "reserved": sum(s.reserved for s in standings),
        },
        "program_card": _card(programs_table(standings), None, period),
    })
    if analytics is None:
        return
    tables = analytics_tables(analytics)
    as_of = analytics.standing.as_of
    context.update({
        "kpis": kpis(analytics),
        "analytics": {
            "program": selected,
            "period": period,
            "programs": programs,
            "periods": PERIODS,
            "as_of": (_("Activity and tiers as of %(when)s; points and members live.")
                      % {"when": date_format(as_of, "SHORT_DATETIME_FORMAT")} if as_of else
                      _("Not pre-aggregated yet: every figure counted live.")),
            "points_chart": points_chart(analytics),
            "tiers_chart": tiers_chart(analytics.standing),
            "cards": [_card(table, selected, period) for table in tables.values()],
        },
    })
