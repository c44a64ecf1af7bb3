"""The console's dashboard (django-unfold): the page's frame, filled by the apps.

Everything here runs inside the request's tenant scope (``members.middleware``), so a staff
user's figures are their merchant's; the operator's are the whole platform's. ``members`` adds
the latest ledger entries (``recent_table``); the apps above it add their parts through two
hooks, since a base app never imports a consumer:

* ``dashboard_context_register(fn)``: ``fn(request, context)`` adds to the template context
  (the analytics app adds the figure cards ``kpis``, the program table and its charts);
* ``dashboard_table_register(fn)``: ``fn(request)`` answers ``{"title": ..., "table": ...}``
  (an unfold table) or ``None``, shown below the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from ledger.models import Entry

RECENT_ENTRIES = 10

DASHBOARD_TABLES: list[tuple[Callable[[Any], dict[str, Any] | None], int]] = []
DASHBOARD_CONTEXT: list[tuple[Callable[[Any, dict[str, Any]], None], int]] = []


def dashboard_table_register(table: Callable[[Any], dict[str, Any] | None], *,
                             order: int = 50) -> None:
    """Show ``table(request)`` on the dashboard (idempotent per function)."""
    if all(fn is not table for fn, _order in DASHBOARD_TABLES):
        DASHBOARD_TABLES.append((table, order))


def dashboard_table_unregister(table: Callable[[Any], dict[str, Any] | None]) -> None:
    """Stop showing ``table`` (an app that shows the same figures better replaces it)."""
    DASHBOARD_TABLES[:] = [(fn, order) for fn, order in DASHBOARD_TABLES if fn is not table]


def dashboard_context_register(add: Callable[[Any, dict[str, Any]], None], *,
                               order: int = 50) -> None:
    """Call ``add(request, context)`` on every dashboard render (idempotent per function)."""
    if all(fn is not add for fn, _order in DASHBOARD_CONTEXT):
        DASHBOARD_CONTEXT.append((add, order))


def recent_table() -> dict[str, Any]:
    """The latest ledger entries (newest first: a primary-key scan, cheap at any size)."""
    recent = Entry.objects.select_related("member__customer", "program").order_by("-id")[
        :RECENT_ENTRIES
    ]
    return {
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
    }


def dashboard_callback(request, context):
    context.update({"title": _("Dashboard"), "kpis": [], "recent_table": recent_table()})
    for add, _order in sorted(DASHBOARD_CONTEXT, key=lambda item: item[1]):
        add(request, context)
    context["extra_tables"] = [
        table for fn, _order in sorted(DASHBOARD_TABLES, key=lambda t: t[1])
        if (table := fn(request)) is not None
    ]
    return context


def environment_callback(request):
    return [_("Development"), "warning"] if settings.DEBUG else [_("Production"), "danger"]
