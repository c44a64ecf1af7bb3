"""Benchmark: the console dashboard at 1,000,000 members and 10,000,000 ledger entries.

On PostgreSQL, in a dedicated database (``--db``, default ``dashboard_bench``, dropped and
migrated here), one merchant's program gets ``--members`` members and ``--entries`` entries
spread over the last 365 days in time order (earn, redeem, expire, adjust, reserve), with
orders (one per ten entries), rule awards, reward redemptions and referrals to match, built by
``INSERT ... SELECT generate_series`` in the database. A second, small merchant shares the
database (the dashboard must not count it).

The load runs with ``session_replication_role = replica`` (this session only, in the bench
database only): that turns off the foreign-key triggers, which would otherwise check every
row; the rows are generated consistent. The append-only triggers fire on UPDATE and DELETE
only and do not get in the way. The seeded members' cached figures are fixtures, not backed
by their entries.

Then the daily rollup (``analytics.jobs.rollup``) runs twice (the first builds every day, the
second is the daily run: it rewrites the last two days), a few postings are made after it (the
live tail), and the dashboard is rendered through the Django test client as the merchant's
Owner, ``--renders`` times per period (30, 90, 365 days), after one warm-up render. Printed:
the seed and job times, the median and worst render time against the 1 s target, the queries
per render, and pgbench's TPC-B rate as SPEC 18's reference.

    .venv/bin/python bench/dashboard.py [--members 1000000] [--entries 10000000]
                                        [--renders 5] [--db dashboard_bench] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench._reference import create_database, database_url, pgbench_tps  # noqa: E402

TARGET_SECONDS = 1.0
DAYS = 365
# Entry kinds by ``i % 20``: what share of the entries each kind is.
KINDS_SQL = """
    CASE WHEN g.k < 11 THEN 'earn' WHEN g.k < 14 THEN 'redeem' WHEN g.k < 15 THEN 'expire'
         WHEN g.k < 18 THEN 'adjust' ELSE 'reserve' END
"""


def configure(db: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url(db), DEBUG="False", LOG_LEVEL="WARNING", CONN_MAX_AGE="600",
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789abcdef",
        DJANGO_SETTINGS_MODULE="loyaltysite.settings", DB_POOL="False",
        ALLOWED_HOSTS="testserver,127.0.0.1",
    )
    import django

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise, no collectstatic
    django.setup()
    from django.conf import settings

    # Production settings, but static URLs without collectstatic's manifest.
    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "django.contrib.staticfiles.storage.StaticFilesStorage")


def _step(label: str, cursor, sql: str, params: dict) -> None:
    started = time.perf_counter()
    cursor.execute(sql, params)
    print(f"  {label:<44} {time.perf_counter() - started:7.1f} s", flush=True)


def seed(members: int, entries: int):
    """The merchant, its Owner, a program with a ladder, rules and rewards, and the rows."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from loyaltysite.clock import system_clock
    from members.models import Program, StaffMembership
    from members.services import merchant_create, staff_attach
    from rewards.models import Reward
    from rules.models import EarningRule
    from tiers import services as tiers

    merchant, _ = merchant_create(slug="bench-dashboard", name="Bench Dashboard")
    owner = get_user_model().objects.create_user("owner@bench.test", password="bench-pass-123")
    staff_attach(user=owner, merchant=merchant, role=StaffMembership.Role.OWNER)
    program = Program.objects.create(merchant=merchant, name="Bench", currency="EUR")
    ladder = [tiers.tier_create(program=program, name=name, rank=rank, threshold_points=points)
              for rank, (name, points) in enumerate(
                  [("Bronze", 0), ("Silver", 1000), ("Gold", 5000)], start=1)]
    rules = [EarningRule.objects.create(merchant=merchant, program=program, name=f"Rule {n}",
                                        kind=EarningRule.Kind.ORDER) for n in range(1, 9)]
    rewards = [Reward.objects.create(merchant=merchant, program=program, name=f"Reward {n}",
                                     points_cost=100 * n) for n in range(1, 7)]
    rival, _ = merchant_create(slug="bench-rival", name="Bench Rival")
    rival_program = Program.objects.create(merchant=rival, name="Rival", currency="EUR")

    now = system_clock.now()
    params = {
        "m": merchant.pk, "p": program.pk, "n": members, "e": entries, "now": now,
        "from": now - __import__("datetime").timedelta(days=DAYS), "days": DAYS,
        "t1": ladder[0].pk, "t2": ladder[1].pk, "t3": ladder[2].pk,
        "r0": rules[0].pk, "nr": len(rules), "w0": rewards[0].pk, "nw": len(rewards),
        "rm": rival.pk, "rp": rival_program.pk,
    }
    print(f"seeding {members:,} members and {entries:,} entries")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DROP INDEX ledger_entry_member_newest, ledger_entry_ref")
        _step("customers", cursor, """
            INSERT INTO members_customer (merchant_id, external_id, email, name, created_at)
            SELECT %(m)s, 'b-' || i, '', '', %(now)s FROM generate_series(1, %(n)s) i
        """, params)
        # enrolled evenly over the year; one in three active in the last 30 days, ...
        _step("members", cursor, """
            INSERT INTO members_member (
                merchant_id, program_id, customer_id, card_id, status, enrolled_at,
                last_activity_at, balance, pending_points, reserved_points, lifetime_points,
                tier_id, tier_value, tier_offset, streak, streak_state, event_sequence)
            SELECT %(m)s, %(p)s, c.id, upper(substr(md5(c.id::text), 1, 16)),
                   CASE WHEN c.i %% 50 = 0 THEN 'suspended' ELSE 'active' END,
                   %(from)s + (c.i::float / %(n)s) * (%(now)s - %(from)s),
                   %(now)s - ((c.i * 7919) %% 120) * interval '1 day',
                   v.points, (c.i %% 7) * 10, (c.i %% 11), v.points + 100,
                   CASE WHEN v.points >= 5000 THEN %(t3)s WHEN v.points >= 1000 THEN %(t2)s
                        WHEN c.i %% 4 > 0 THEN %(t1)s END,
                   0, 0, 0, 'active', 0
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS i FROM members_customer
                  WHERE merchant_id = %(m)s) c
            CROSS JOIN LATERAL (SELECT ((c.i * 7919) %% 8000)::bigint AS points) v
        """, params)
        cursor.execute("SELECT min(id) FROM members_member WHERE program_id = %(p)s", params)
        params["mid0"] = cursor.fetchone()[0]
        batch = 1_000_000
        for first in range(1, entries + 1, batch):
            last = min(entries, first + batch - 1)
            _step(f"entries {first:,}..{last:,}", cursor, """
                INSERT INTO ledger_entry (
                    merchant_id, program_id, member_id, kind, points, balance_delta,
                    pending_delta, reserved_delta, balance_after, reference, rule_id, actor,
                    reason, metadata, created_at)
                SELECT %(m)s, %(p)s, %(mid0)s + (s.i * 7919) %% %(n)s, s.kind, s.points,
                       CASE WHEN s.kind = 'redeem' THEN 0 ELSE s.points END, 0,
                       CASE WHEN s.kind = 'redeem' THEN s.points
                            WHEN s.kind = 'reserve' THEN -s.points ELSE 0 END,
                       1000, '', CASE WHEN s.kind = 'earn' THEN %(r0)s + s.i %% %(nr)s END,
                       'bench', '', '{}',
                       %(from)s + (s.i::float / %(e)s) * (%(now)s - %(from)s)
                FROM (SELECT i, k, kind,
                             CASE WHEN kind IN ('earn') THEN 10 + i %% 90
                                  WHEN kind = 'adjust' AND i %% 2 = 0 THEN 25
                                  ELSE -(5 + i %% 45) END AS points
                      FROM (SELECT i, i %% 20 AS k
                            FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) i) g
                      CROSS JOIN LATERAL (SELECT """ + KINDS_SQL + """ AS kind) kk) s
            """, {**params, "lo": first, "hi": last})
        _step("orders (one per ten entries)", cursor, """
            INSERT INTO rules_order (
                merchant_id, program_id, member_id, order_id, currency, amount, points_discount,
                items, points_earned, points_reversed, points_shortfall, amount_refunded,
                status, awards, actor, occurred_at, created_at)
            SELECT %(m)s, %(p)s, %(mid0)s + (i * 104729) %% %(n)s, 'o-' || i, 'EUR',
                   10 + i %% 190, 0, '[]', 0, 0, 0, 0, 'completed', '[]', 'bench', t, t
            FROM generate_series(1::bigint, %(e)s / 10) i
            CROSS JOIN LATERAL (SELECT %(from)s + (i::float * 10 / %(e)s)
                                       * (%(now)s - %(from)s) AS t) tt
        """, params)
        _step("rule awards (one per ten entries)", cursor, """
            INSERT INTO rules_award (merchant_id, program_id, member_id, rule_id, points,
                                     created_at)
            SELECT %(m)s, %(p)s, %(mid0)s + (i * 7919) %% %(n)s, %(r0)s + i %% %(nr)s,
                   10 + i %% 50, %(from)s + (i::float * 10 / %(e)s) * (%(now)s - %(from)s)
            FROM generate_series(1::bigint, %(e)s / 10) i
        """, params)
        _step("holds and reward redemptions (1 per 50)", cursor, """
            WITH h AS (
                INSERT INTO ledger_hold (merchant_id, program_id, member_id, points, status,
                                         reference, allocations, expires_at, created_at,
                                         settled_at)
                SELECT %(m)s, %(p)s, %(mid0)s + (i * 7919) %% %(n)s, 100 * (1 + i %% %(nw)s),
                       'confirmed', 'h-' || i, '[]', t + interval '15 minutes', t, t
                FROM generate_series(1::bigint, %(e)s / 50) i
                CROSS JOIN LATERAL (SELECT %(from)s + (i::float * 50 / %(e)s)
                                           * (%(now)s - %(from)s) AS t) tt
                RETURNING id, member_id, points, created_at)
            INSERT INTO rewards_redemption (
                merchant_id, program_id, member_id, kind, reward_id, hold_id, points, currency,
                order_id, status, stock_taken, refunded_amount, refunded_points, actor,
                expires_at, created_at, confirmed_at)
            SELECT %(m)s, %(p)s, h.member_id, 'reward', %(w0)s + h.points / 100 - 1, h.id,
                   h.points, 'EUR', '', 'confirmed', false, 0, 0, 'bench',
                   h.created_at + interval '15 minutes', h.created_at, h.created_at
            FROM h
        """, params)
        _step("referral codes, referrals, conversions", cursor, """
            WITH c AS (
                INSERT INTO referrals_referralcode (merchant_id, program_id, member_id, code,
                                                    is_active, created_at, deactivated_by)
                SELECT %(m)s, %(p)s, %(mid0)s + i, 'BENCH' || i, true,
                       %(from)s + (i::float / (%(n)s / 20)) * (%(now)s - %(from)s), ''
                FROM generate_series(0, %(n)s / 20 - 1) i
                RETURNING id, member_id, created_at)
            INSERT INTO referrals_referral (
                merchant_id, program_id, code_id, referrer_id, referee_id, status, channel,
                source, actor, created_at, expires_at, order_id, converted_at, decision,
                decided_by, decision_reason)
            SELECT %(m)s, %(p)s, c.id, c.member_id, c.member_id + %(n)s / 2,
                   CASE WHEN c.member_id %% 3 = 0 THEN 'converted' ELSE 'pending' END,
                   'enrolment', '', 'bench', c.created_at, c.created_at + interval '60 days',
                   CASE WHEN c.member_id %% 3 = 0 THEN
                       (SELECT min(id) FROM rules_order WHERE program_id = %(p)s) END,
                   CASE WHEN c.member_id %% 3 = 0 THEN c.created_at + interval '3 days' END,
                   '', '', ''
            FROM c WHERE c.member_id %% 2 = 0
        """, params)
        _step("the rival merchant (1,000 members, entries)", cursor, """
            WITH cu AS (
                INSERT INTO members_customer (merchant_id, external_id, email, name, created_at)
                SELECT %(rm)s, 'r-' || i, '', '', %(now)s FROM generate_series(1, 1000) i
                RETURNING id),
            mm AS (
                INSERT INTO members_member (
                    merchant_id, program_id, customer_id, card_id, status, enrolled_at,
                    balance, pending_points, reserved_points, lifetime_points, tier_value,
                    tier_offset, streak, streak_state, event_sequence)
                SELECT %(rm)s, %(rp)s, id, 'R' || upper(substr(md5(id::text), 1, 15)),
                       'active', %(now)s, 500, 0, 0, 500, 0, 0, 0, 'active', 0 FROM cu
                RETURNING id)
            INSERT INTO ledger_entry (merchant_id, program_id, member_id, kind, points,
                                      balance_delta, pending_delta, reserved_delta,
                                      balance_after, reference, actor, reason, metadata,
                                      created_at)
            SELECT %(rm)s, %(rp)s, id, 'earn', 500, 500, 0, 0, 500, '', 'bench', '', '{}',
                   %(now)s - interval '2 days' FROM mm
        """, params)
        _step("indexes on the ledger (recreated)", cursor, """
            CREATE INDEX ledger_entry_member_newest
                ON ledger_entry (member_id, created_at DESC, id DESC);
            CREATE INDEX ledger_entry_ref ON ledger_entry (merchant_id, program_id, reference);
        """, params)
        cursor.execute("SET session_replication_role = DEFAULT")
        _step("ANALYZE", cursor, "ANALYZE", params)
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    return owner, program


def run_rollup(label: str) -> float:
    from django_scopes import scopes_disabled

    from analytics.jobs import rollup
    from loyaltysite.clock import system_clock

    started = time.perf_counter()
    with scopes_disabled():
        programs = rollup(clock=system_clock, batch_size=500)
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:7.1f} s  ({programs} programs)", flush=True)
    return seconds


def post_live_tail(program, count: int = 50) -> None:
    """Postings after the job: the dashboard counts them live (above the watermarks)."""
    from django_scopes import scopes_disabled

    from ledger.services import points_credit
    from members.models import Member

    with scopes_disabled():
        active = Member.objects.filter(program=program, status=Member.Status.ACTIVE)
        for member in active.order_by("id")[:count]:
            points_credit(member=member, points=10, actor="bench")


def render(owner, program, periods: tuple[int, ...], renders: int) -> dict[int, list[float]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(owner)
    times: dict[int, list[float]] = {}
    for days in periods:
        query = {"program": program.pk, "period": days}
        response = client.get("/admin/", query)  # warm-up (templates, caches, plans)
        assert response.status_code == 200, response.status_code
        assert b"analytics-points-chart" in response.content
        times[days] = []
        for _ in range(renders):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get("/admin/", query)
                times[days].append(time.perf_counter() - started)
            assert response.status_code == 200
        median, worst = statistics.median(times[days]), max(times[days])
        verdict = "ok" if median < TARGET_SECONDS else "OVER TARGET"
        print(f"dashboard, {days:>3} days: median {median * 1000:6.0f} ms, worst "
              f"{worst * 1000:6.0f} ms, {len(queries):3d} queries "
              f"(target {TARGET_SECONDS * 1000:.0f} ms)   {verdict}", flush=True)
    return times


def summary(program) -> None:
    """What the dashboard showed for the year, to check the figures are the seeded ones."""
    from django_scopes import scopes_disabled

    from analytics.selectors import program_analytics

    with scopes_disabled():
        a = program_analytics(program=program, days=DAYS)
    s = a.standing
    print(f"365 days: {s.members:,} members, issued {a.total('issued'):,}, redeemed "
          f"{a.total('redeemed'):,}, expired {a.total('expired'):,} (rate {a.redemption_rate} %), "
          f"liability {s.liability:,.2f} EUR, revenue {a.revenue:,.2f} EUR from "
          f"{a.total('orders'):,} orders, {a.total('converted'):,} referral conversions")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=None,
                        help="Default: ten per member (10,000,000 at 1,000,000 members).")
    parser.add_argument("--renders", type=int, default=5)
    parser.add_argument("--db", default="dashboard_bench")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    entries = args.entries if args.entries is not None else args.members * 10

    create_database(args.db, drop=True)
    configure(args.db)
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    call_command("migrate", verbosity=0)
    with scopes_disabled():
        owner, program = seed(args.members, entries)
    print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    run_rollup("rollup job, first run (every day)")
    run_rollup("rollup job, daily run (last two days)")
    post_live_tail(program)
    times = render(owner, program, (30, 90, 365), args.renders)
    summary(program)
    worst_median = max(statistics.median(t) for t in times.values())
    if not args.skip_reference:
        tps = pgbench_tps(1, 10)
        print(f"\npgbench TPC-B, 1 client: {tps:,.0f} tps (SPEC 18 reference): the slowest "
              f"median render costs {worst_median * tps:,.0f} TPC-B transactions")
    return 0 if worst_median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
