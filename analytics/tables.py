"""The dashboard's tables, one definition for the page and for the CSV export.

Cells are plain values (text, integers) or typed ones (``Money``, ``Percent``, ``Ratio``,
``Month``), written for people on the page (grouped digits, currency) and plainly in the CSV
(``1234``, ``62.50``, ``2026-01``), so a spreadsheet reads the figures as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from loyaltysite.formatting import money_display, money_str

from .selectors import Analytics, Standing, percent


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Percent:
    value: Decimal | None


@dataclass(frozen=True)
class Ratio:
    value: Decimal | None


@dataclass(frozen=True)
class Month:
    first_day: date


@dataclass
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(cell: Any) -> str:
    """The cell for a spreadsheet; text a spreadsheet would run as a formula (a reward named
    ``=HYPERLINK(...)``) is quoted with a leading apostrophe."""
    if isinstance(cell, str):
        return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell
    if isinstance(cell, Money):
        return money_str(cell.amount, cell.currency)
    if isinstance(cell, Percent | Ratio):
        return "" if cell.value is None else str(cell.value)
    if isinstance(cell, Month):
        return cell.first_day.strftime("%Y-%m")
    return "" if cell is None else str(cell)


def display_cell(cell: Any) -> str:
    if isinstance(cell, Money):
        return money_display(cell.amount, cell.currency)
    if isinstance(cell, Percent):
        return "–" if cell.value is None else f"{number_format(cell.value, 1)} %"
    if isinstance(cell, Ratio):
        return "–" if cell.value is None else number_format(cell.value, 2)
    if isinstance(cell, Month):
        return date_format(cell.first_day, "YEAR_MONTH_FORMAT")
    if isinstance(cell, int):
        return number_format(cell, force_grouping=True)
    return "" if cell is None else str(cell)


def programs_table(standings: list[Standing]) -> Table:
    return Table("programs", _("Programs"), [
        _("Program"), _("Members"), _("Active"), _("Outstanding points"), _("Liability"),
    ], [
        [s.program.name, s.members, s.active_status, s.outstanding,
         Money(s.liability, s.program.currency)]
        for s in standings
    ])


def ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.01")) if whole else None


def analytics_tables(a: Analytics) -> dict[str, Table]:
    """Every table of one program's analytics, by name (the CSV export's ``table``)."""
    s, currency = a.standing, a.program.currency
    issued, redeemed = a.total("issued"), a.total("redeemed")
    codes, referred, converted = (a.total(n) for n in ("codes_shared", "referred", "converted"))
    tables = [
        Table("members", _("Members"), [_("Figure"), _("Members")], [
            [_("Enrolled (all time)"), s.members],
            [_("Enrolled in the period"), a.total("enrolled")],
            [_("Status active"), s.active_status],
            [_("Active in the last 30 days"), s.active_30],
            [_("Active in the last 90 days"), s.active_90],
        ]),
        Table("liability", _("Outstanding points and liability"),
              [_("Points"), _("Outstanding"), _("Liability")], [
            [_("Spendable"), s.spendable, Money(s.value(s.spendable), currency)],
            [_("Pending"), s.pending, Money(s.value(s.pending), currency)],
            [_("Reserved"), s.reserved, Money(s.value(s.reserved), currency)],
            [_("Total"), s.outstanding, Money(s.liability, currency)],
        ]),
        Table("months", _("Points per month"),
              [_("Month"), _("Issued"), _("Redeemed"), _("Expired"), _("Redemption rate")], [
            [Month(m["month"]), m["issued"], m["redeemed"], m["expired"],
             Percent(percent(m["redeemed"], m["issued"]))]
            for m in a.months()
        ] + [[_("Period"), issued, redeemed, a.total("expired"), Percent(a.redemption_rate)]]),
        Table("tiers", _("Tier distribution"), [_("Tier"), _("Members"), _("Share")], [
            [line["name"] or _("No tier"), line["members"], Percent(line["share"])]
            for line in s.tiers
        ]),
        Table("rules", _("Top earning rules"), [_("Rule"), _("Awards"), _("Points")], [
            [rule["name"], rule["awards"], rule["points"]] for rule in a.rules
        ]),
        Table("rewards", _("Top rewards"),
              [_("Reward"), _("Redemptions"), _("Points"), _("Points' value")], [
            [reward["name"], reward["redemptions"], reward["points"],
             Money(s.value(reward["points"]), currency)]
            for reward in a.rewards
        ]),
        # A code can bring several friends: enrolments per code is a ratio, not a share.
        Table("referrals", _("Referral funnel"),
              [_("Stage"), _("Count"), _("Per code shared"), _("Of the referred")], [
            [_("Codes shared"), codes, Ratio(None), Percent(None)],
            [_("Referred friends enrolled"), referred, Ratio(ratio(referred, codes)),
             Percent(None)],
            [_("Converted (first qualifying order)"), converted, Ratio(ratio(converted, codes)),
             Percent(percent(converted, referred))],
        ]),
        Table("roi", _("Program ROI"), [_("Figure"), _("Value")], [
            [_("Revenue from members' orders (net of refunds)"), Money(a.revenue, currency)],
            [_("Orders"), a.total("orders")],
            [_("Repeat-purchase rate (orders by returning members)"), Percent(a.repeat_rate)],
            [_("Points redeemed"), redeemed],
            [_("Value of points redeemed"), Money(a.redeemed_value, currency)],
            [_("Revenue per unit of points redeemed"), Ratio(a.roi)],
        ]),
    ]
    return {table.name: table for table in tables}


def as_unfold(table: Table) -> dict[str, Any]:
    """The table for unfold's table component: headers and display strings."""
    return {"headers": table.headers,
            "rows": [[display_cell(cell) for cell in row] for row in table.rows]}
