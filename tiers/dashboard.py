"""The tier distribution on the console's dashboard (analytics will chart it later)."""

from __future__ import annotations

from typing import Any

from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from .selectors import tier_distribution


def tier_distribution_table(request: Any) -> dict[str, Any] | None:
    """Members per tier of each program with a ladder, in the request's merchant scope."""
    rows = []
    for entry in tier_distribution():
        program = entry["program"].name
        for line in entry["tiers"]:
            tier = line["tier"]
            rows.append([
                program,
                format_html(
                    '<svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true" '
                    'focusable="false" class="inline-block align-middle mr-1">'
                    '<circle cx="6" cy="6" r="5" fill="{}"/></svg>{}', tier.colour, tier.name,
                ),
                number_format(line["members"], force_grouping=True),
                f"{number_format(line['share'])} %",
            ])
        if entry["without"]:
            rows.append([program, _("No tier"), number_format(entry["without"],
                                                               force_grouping=True), ""])
    if not rows:
        return None
    return {
        "title": _("Tier distribution"),
        "table": {"headers": [_("Program"), _("Tier"), _("Members"), _("Share")], "rows": rows},
    }
