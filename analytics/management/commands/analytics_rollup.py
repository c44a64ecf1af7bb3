"""Re-run the analytics rollup from a given day: ``manage.py analytics_rollup --since DATE``.

The daily job (``run_jobs --job analytics-rollup``) rewrites the days since the day before its
last run; this rewrites every day from ``--since`` (or all history with ``--all``), for every
live program or the ``--program`` ids given, e.g. after a correction to past data.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from analytics.services import rollup_program
from loyaltysite.clock import system_clock
from members.models import Program


class Command(BaseCommand):
    help = "Rewrite the analytics rollups from a day (every program, or the ones named)."

    def add_arguments(self, parser):
        when = parser.add_mutually_exclusive_group(required=True)
        when.add_argument("--since", type=date.fromisoformat, help="First day (YYYY-MM-DD).")
        when.add_argument("--all", action="store_true", help="Every day since the start.")
        parser.add_argument("--program", type=int, action="append", dest="programs",
                            metavar="ID", help="Only this program (repeatable).")

    def handle(self, *args, since=None, all=False, programs=None, **options):
        with scopes_disabled():  # system work across every merchant
            live = Program.objects.filter(deleted_at__isnull=True).order_by("merchant_id", "id")
            if programs:
                live = live.filter(pk__in=programs)
                missing = sorted(set(programs) - set(live.values_list("pk", flat=True)))
                if missing:
                    raise CommandError(f"No live program with id {', '.join(map(str, missing))}.")
            for program in live:
                rollup_program(program=program, since=None if all else since,
                               clock=system_clock)
                self.stdout.write(f"{program.pk} {program.name}: rolled up from "
                                  f"{'the start' if all else since}")
