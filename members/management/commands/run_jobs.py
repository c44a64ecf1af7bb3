"""Run every app's scheduled jobs (``<app>/jobs.py``: ``JOBS = [(name, fn), ...]``).

Once by default (exit status 1 if any job failed); ``--loop`` repeats every ``--interval``
seconds until interrupted. One job's failure is logged and never stops the others.
``--enqueue`` hands each job to the task workers (``members.tasks.run_job``) instead of
running it in this process.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from loyaltysite.clock import system_clock

# In order: the analytics rollup runs last, after the jobs whose writes it counts.
JOB_APPS = ["ledger", "rules", "tiers", "rewards", "referrals", "events", "analytics"]

logger = logging.getLogger("loyalty.jobs")

Job = tuple[str, Callable[..., int]]


def discover_jobs(apps: list[str] = JOB_APPS) -> list[Job]:
    """Every ``(name, fn)`` of every app that has a ``jobs`` module, in app order."""
    jobs: list[Job] = []
    for app in apps:
        module_name = f"{app}.jobs"
        if importlib.util.find_spec(module_name) is None:
            continue
        jobs.extend(getattr(importlib.import_module(module_name), "JOBS", []))
    return jobs


class Command(BaseCommand):
    help = "Run the scheduled jobs (expiry, pending points, reservations, ...) once or in a loop."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Repeat until interrupted.")
        parser.add_argument(
            "--interval", type=float, default=60.0, help="Seconds between runs with --loop."
        )
        parser.add_argument(
            "--job", action="append", dest="jobs", metavar="NAME",
            help="Run only this job (repeatable).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=None,
            help="Rows per batch (default: LOYALTY_JOB_BATCH_SIZE).",
        )
        parser.add_argument(
            "--enqueue", action="store_true",
            help="Enqueue each job as a task for the workers (manage.py db_worker) instead.",
        )

    def handle(self, *args, loop=False, interval=60.0, jobs=None, batch_size=None,
               enqueue=False, **options):
        if batch_size is None:
            batch_size = settings.LOYALTY["JOB_BATCH_SIZE"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        selected = discover_jobs()
        if jobs:
            known = {name for name, _ in selected}
            unknown = sorted(set(jobs) - known)
            if unknown:
                raise CommandError(
                    f"Unknown job(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
                )
            selected = [(name, fn) for name, fn in selected if name in jobs]
        if enqueue:
            self.run_all = self.enqueue_all
        if not loop:
            failed = self.run_all(selected, batch_size)
            if failed:
                raise CommandError(f"{len(failed)} job(s) failed: {', '.join(failed)}.")
            return
        try:
            while True:
                self.run_all(selected, batch_size)
                time.sleep(interval)
        except KeyboardInterrupt:
            self.stdout.write("Interrupted.")

    def enqueue_all(self, selected: list[Job], batch_size: int) -> list[str]:
        """Enqueue each job as a task; return the names of those that could not be."""
        from members.tasks import run_job

        failed = []
        for name, _fn in selected:
            try:
                result = run_job.enqueue(name, batch_size)
            except Exception as error:
                logger.exception("job %s could not be enqueued", name)
                self.stderr.write(f"{name}: NOT ENQUEUED ({error})")
                failed.append(name)
                continue
            self.stdout.write(f"{name}: enqueued (task {result.id})")
        return failed

    def run_all(self, selected: list[Job], batch_size: int) -> list[str]:
        """Run each job once; return the names of those that failed."""
        failed = []
        for name, fn in selected:
            started = time.monotonic()
            try:
                with scopes_disabled():  # jobs are system work across every merchant
                    count = fn(clock=system_clock, batch_size=batch_size)
            except Exception as error:
                logger.exception("job %s failed", name)
                self.stderr.write(f"{name}: FAILED ({error})")
                failed.append(name)
                continue
            elapsed = time.monotonic() - started
            self.stdout.write(f"{name}: {count} ({elapsed:.2f}s)")
        return failed
