"""Scheduled work of the referrals app (``run_jobs``)."""

from __future__ import annotations

from .services import referrals_expire_due

JOBS = [("referrals-expire", referrals_expire_due)]
