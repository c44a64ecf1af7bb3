"""The scheduled jobs as tasks (``run_jobs --enqueue``): workers run them instead of the
``run_jobs`` process, so a cron entry that only enqueues can drive every machine's workers."""

from __future__ import annotations

from django_scopes import scopes_disabled
from django_tasks import task

from loyaltysite.clock import system_clock


@task(queue_name="jobs")
def run_job(name: str, batch_size: int) -> int:
    """Run the ``run_jobs`` job called ``name`` once; returns its count."""
    from .management.commands.run_jobs import discover_jobs

    jobs = dict(discover_jobs())
    if name not in jobs:
        raise LookupError(f"unknown job {name!r}")
    with scopes_disabled():  # jobs are system work across every merchant
        return jobs[name](clock=system_clock, batch_size=batch_size)
