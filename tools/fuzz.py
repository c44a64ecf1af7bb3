"""The contract fuzzer: schemathesis against a live server, as an integrator would meet it.

    .venv/bin/python tools/fuzz.py                 # what `make fuzz` and CI run
    FUZZ_EXAMPLES=200 .venv/bin/python tools/fuzz.py  # longer: more cases per operation

What it does, from nothing:

1. a fresh PostgreSQL database (``FUZZ_DB``, default ``loyalty_fuzz``, on the server of
   ``DATABASE_URL`` or ``BENCH_PG``), migrated, with the demo merchant loaded;
2. gunicorn in production mode (``DEBUG=False``, the connection pool, static files collected)
   on a free port of 127.0.0.1;
3. ``schemathesis run`` on ``/api/schema/`` with every check and every phase (examples,
   coverage, fuzzing, stateful), the path parameters pinned to real demo objects so requests
   reach past 404, a fixed seed (``FUZZ_SEED``) so a failure can be replayed, and a bounded
   number of cases per operation (``FUZZ_EXAMPLES``) so CI stays within its budget;
4. prints the figures (operations, cases, failures) and exits non-zero on any failure: a
   server error, a response that does not match the schema, a status the schema does not
   document, a schema-valid request refused as malformed (400), an invalid one accepted.

Business refusals of well-formed requests (404, 409, 410, 422, 429) are expected answers to
random data and count as acceptance; a 400 never is (see README, "Errors").
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _http import app_env, serve, stop  # noqa: E402
from _reference import create_database  # noqa: E402

DB_NAME = os.environ.get("FUZZ_DB", "loyalty_fuzz")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "20261201"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "40"))
# Well-formed requests a rule refuses (not found, conflicts, expired, unprocessable, limits).
ACCEPTED = ["2xx", "401", "403", "404", "409", "410", "422", "429"]
BODY_REFERENCES = ("orders_create", "orders_preview", "events_create", "redemptions_reserve",
                   "redemptions_validate")


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        print(done.stderr[-5000:], file=sys.stderr)
        raise SystemExit(f"manage.py {args[0]} failed ({done.returncode})")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PINNED_SQL = """
import json
from django_scopes import scopes_disabled
from members.models import Member, Program
from events.services import endpoint_create, endpoint_send_test
from members.services import api_key_create, member_enrol_customer, program_create
from events.models import Delivery, OutboxEvent, WebhookEndpoint
from referrals.models import Referral
from rewards.models import Redemption, Reward, Voucher
from rewards.services import reward_create
from rules.models import EarningRule, Order
from rules.services import rule_create
from tiers.models import Tier
from tiers.services import tier_create
with scopes_disabled():
    program = Program.objects.get(merchant__slug="demo", name="Demo Rewards")
    _, key = api_key_create(merchant=program.merchant, name="fuzz",
                            rate_limit_per_minute=1_000_000)
    member = Member.objects.filter(program=program, status="active").order_by("id").first()
    endpoint = WebhookEndpoint.objects.filter(merchant=program.merchant).order_by("id").first()
    pinned = {
        "path.program": program.pk,
        "path.member": str(member.pk),
        "path.order_id": Order.objects.filter(program=program).order_by("id").first().order_id,
        "path.rule": EarningRule.objects.filter(program=program).order_by("id").first().pk,
        "path.tier": Tier.objects.filter(program=program).order_by("id").first().pk,
        "path.reward": Reward.objects.filter(program=program).order_by("id").first().pk,
        "path.redemption": Redemption.objects.filter(program=program).order_by("id")
            .first().pk,
        "path.code": Voucher.objects.filter(program=program).order_by("id").first().code,
        "path.referral": Referral.objects.filter(program=program).order_by("id").first().pk,
        "path.webhook": endpoint.pk,
        "path.delivery": (Delivery.objects.filter(endpoint__merchant=program.merchant)
                          .order_by("id").first() or endpoint_send_test(endpoint=endpoint)).pk,
        "path.event": OutboxEvent.objects.filter(merchant=program.merchant).order_by("id")
            .first().event_id,
    }
    # What the destructive operations may destroy, so the pinned objects stay for the rest.
    spares = {
        "programs_destroy": {"path.program": program_create(
            merchant=program.merchant, name="Fuzz: deleted by the fuzzer", currency="EUR").pk},
        "rewards_destroy": {"path.reward": reward_create(
            program=program, name="Fuzz: deleted by the fuzzer", points_cost=10).pk},
        "rules_destroy": {"path.rule": rule_create(
            program=program, name="Fuzz: deleted by the fuzzer", kind="order",
            config={"points": 1}).pk},
        "tiers_destroy": {"path.tier": tier_create(
            program=program, name="Fuzz: deleted by the fuzzer", rank=99,
            threshold_points=10_000_000, threshold_amount=10_000_000).pk},
        "webhooks_destroy": {"path.webhook": endpoint_create(
            merchant=program.merchant, url="http://127.0.0.1:9/fuzz").pk},
    }
    spare_member = member_enrol_customer(program=program, external_id="fuzz-status-changes")
    for operation in ("members_suspend", "members_deactivate", "members_reactivate"):
        spares[operation] = {"path.member": str(spare_member.pk)}
    members = Member.objects.filter(program=program, status="active").select_related("customer")
    # Real values for the bodies that name things, drawn half the time, so requests reach
    # the business rules instead of stopping at MEMBER_NOT_FOUND.
    dictionaries = {
        "member_ids": [str(m.pk) for m in members],
        "card_ids": [m.card_id for m in members],
        "external_ids": [m.customer.external_id for m in members],
        "rewards": list(Reward.objects.filter(program=program, deleted_at__isnull=True)
                        .values_list("pk", flat=True)),
        "currencies": [program.currency],
    }
    print(json.dumps({"key": key, "pinned": pinned, "spares": spares,
                      "dictionaries": dictionaries}))
"""


def prepare(env: dict[str, str]) -> dict[str, object]:
    create_database(DB_NAME, drop=True)
    # The demo's webhook endpoint is this machine's own receiver: set-up allows private
    # networks (the server under test does not).
    setup = {**env, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "True"}
    manage("migrate", "--noinput", "-v", "0", env=setup)
    manage("loyalty_demo", env=setup)
    manage("collectstatic", "--noinput", "-v", "0", env=setup)
    out = manage("shell", "-c", PINNED_SQL, env=setup)
    return json.loads(out.strip().splitlines()[-1])


def _inline(table: dict[str, object]) -> str:
    def value(v: object) -> str:
        return _inline(v) if isinstance(v, dict) else json.dumps(v)

    return "{ " + ", ".join(f'"{k}" = {value(v)}' for k, v in table.items()) + " }"


def config(port: int, objects: dict, *, stateful: bool) -> str:
    """Two runs share a server: the request phases with path parameters pinned to real
    objects (spares for what destroys or deactivates), then the stateful phase unpinned, so
    its links carry the ids of what it created itself."""
    lines = [
        f'base-url = "http://127.0.0.1:{port}"',
        f"seed = {SEED}",
        # One worker: Python 3.11's ast.parse, which Hypothesis calls while it builds
        # strategies, is not thread-safe ("AST constructor recursion depth mismatch").
        "workers = 1",
        "request-timeout = 30",
        "continue-on-failure = true",
    ]
    bindings = {
        "body.member": "member_ids", "body.card_id": "card_ids",
        "body.external_id": "external_ids", "body.reward": "rewards",
        "body.currency": "currencies",
    }
    parameters = {k: {"dictionary": v, "probability": 0.5} for k, v in bindings.items()}
    if not stateful:
        parameters.update(objects["pinned"])
    lines.append(f"parameters = {_inline(parameters)}")
    lines += ["", "[dictionaries]"]
    lines += [f"{name} = {{ values = {json.dumps(values)} }}"
              for name, values in objects["dictionaries"].items()]
    lines += [
        "",
        "[auth.openapi.ApiKeyAuth]",
        f'api_key = "Api-Key {objects["key"]}"',
        "",
        "[generation]",
        f"max-examples = {EXAMPLES}",
        # Text is UTF-8 without NUL characters: PostgreSQL stores nothing else, and the API
        # refuses both with a 400 (README, "Errors"); generating them tests nothing more.
        "allow-x00 = false",
        'codec = "utf-8"',
        "",
        "[checks]",
        "enabled = true",
        "",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(ACCEPTED)}",
        "",
        "[phases]",
        f"examples.enabled = {str(not stateful).lower()}",
        f"coverage.enabled = {str(not stateful).lower()}",
        f"fuzzing.enabled = {str(not stateful).lower()}",
        f"stateful.enabled = {str(stateful).lower()}",
        f"stateful.max-steps = {STATEFUL_STEPS}",
    ]
    if stateful:
        # A 404 from these names the member or reward in the body, not the program the link
        # gave them; "created resource not found" would read it as the program vanishing.
        for operation in BODY_REFERENCES:
            lines += ["", "[[operations]]", f'include-operation-id = "{operation}"',
                      "checks.ensure_resource_availability.enabled = false"]
    else:
        for operation, spare in objects["spares"].items():
            lines += ["", "[[operations]]", f'include-operation-id = "{operation}"',
                      f"parameters = {_inline({**parameters, **spare})}"]
    return "\n".join(lines) + "\n"


def run_schemathesis(port: int, objects: dict, *, stateful: bool) -> tuple[int, str, Path]:
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as file:
        file.write(config(port, objects, stateful=stateful))
    report = Path(tempfile.mkdtemp(prefix="fuzz-report-"))
    command = [
        str(ROOT / ".venv" / "bin" / "schemathesis"), "--config-file", file.name, "run",
        f"http://127.0.0.1:{port}/api/schema/?format=json", "--report", "junit",
        "--report-dir", str(report),
    ]
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"},
                            capture_output=True, text=True)
    print(result.stdout[-30000:])
    if result.stderr.strip():
        print(result.stderr[-5000:], file=sys.stderr)
    return result.returncode, result.stdout, report


def main() -> int:
    env = {**app_env(DB_NAME), "STATIC_ROOT": tempfile.mkdtemp(prefix="fuzz-static-"),
           "LOG_LEVEL": "ERROR"}
    started = time.monotonic()
    objects = prepare(env)
    port = free_port()
    server = serve(DB_NAME, port, "--workers", "2", env=env)
    try:
        outcomes = [run_schemathesis(port, objects, stateful=phase) for phase in (False, True)]
    finally:
        stop(server)
    summarize(outcomes, time.monotonic() - started)
    return max(code for code, _, _ in outcomes)


def summarize(outcomes: list[tuple[int, str, Path]], elapsed: float) -> None:
    """One line of figures: operations, cases, failures (JUnit reports and the output)."""
    operations: set[str] = set()
    cases = failures = 0
    for _code, output, report in outcomes:
        for xml in report.glob("*.xml"):
            text = xml.read_text()
            operations.update(re.findall(r'<testcase [^>]*name="([^"]+)"', text))
        found = re.search(r"(\d[\d,]*) generated", output)
        if found:
            cases += int(found.group(1).replace(",", ""))
        for found in re.finditer(r"(\d[\d,]*) (?:failures?|errors?)\b", output.split(
                "SUMMARY")[-1]):
            failures += int(found.group(1).replace(",", ""))
    print(f"FUZZ: {len(operations)} operations, {cases} cases, {failures} failures or errors, "
          f"seed {SEED}, {elapsed:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
