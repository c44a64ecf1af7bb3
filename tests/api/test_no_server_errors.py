"""No bad input reaches a 500: every write endpoint of the OpenAPI schema, every field of its
request body, a set of hostile values. Also odd query strings on every list."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from events.models import Delivery, OutboxEvent, WebhookEndpoint
from ledger.models import Hold
from members.models import Member, MerchantAPIKey, Program
from members.services import api_key_create
from referrals.models import Referral
from rewards.models import Redemption, Reward, Voucher
from rules.models import EarningRule, Order
from tiers.models import Tier

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HOSTILE = [None, "", "x" * 300, -1, 0, 2**63, 10**30, 1.5, True, [], {}, "NaN", "1e309",
           [{"a": None}], {"nested": {"deep": [1, None, "x"]}}]
BODIES = [[], "text", 12, None, {"unknown_field": 1}]
QUERIES = ["page=abc", "page=-1", "page_size=-5", "page_size=abc", "status=zzz", "member=abc",
           "cursor=!!!", "external_id=%00", "tier=abc", "kind=zzz", "created_after=yesterday"]


@pytest.fixture
def world(client):
    call_command("loyalty_demo", stdout=StringIO())
    program = Program.objects.get(merchant__slug="demo", name="Demo Rewards")
    _, key = api_key_create(merchant=program.merchant, name="fuzz")
    endpoint = WebhookEndpoint.objects.create(
        merchant=program.merchant, url="https://hooks.example.com/loyalty", secret="whsec_x",
        created_at=timezone.now(), updated_at=timezone.now(),
    )
    Delivery.objects.create(
        merchant=program.merchant, endpoint=endpoint, next_attempt_at=timezone.now(),
        event=OutboxEvent.objects.filter(merchant=program.merchant).first(),
        created_at=timezone.now(),
    )
    ids = {
        "program": program.pk,
        "member": Member.objects.filter(program=program).first().pk,
        "order_id": Order.objects.filter(program=program).first().order_id,
        "redemption": Redemption.objects.filter(program=program).first().pk,
        "reward": Reward.objects.filter(program=program).first().pk,
        "rule": EarningRule.objects.filter(program=program).first().pk,
        "code": Voucher.objects.filter(program=program).first().code,
        "referral": Referral.objects.filter(program=program).first().pk,
        "webhook": endpoint.pk,  # made here: the demo's needs private networks allowed
        "delivery": Delivery.objects.filter(endpoint=endpoint).first().pk,
        "event": OutboxEvent.objects.filter(merchant=program.merchant).first().event_id,
        "tier": Tier.objects.filter(program=program).first().pk,
    }
    schema = json.loads(client.get("/api/schema/?format=json").content)
    return key, ids, schema


def _request_fields(schema: dict, operation: dict) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref")
    if not ref:
        return []
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return list(component.get("properties", {}))


def test_hostile_input_never_answers_500(client, world):
    key, ids, schema = world
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    failures = []
    seen: dict[int, int] = {}
    for path, operations in schema["paths"].items():
        url = path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", str(value))
        for method in ("post", "patch"):
            if method not in operations:
                continue
            fields = _request_fields(schema, operations[method]) or ["points"]
            bodies = [{field: value} for field in fields for value in HOSTILE] + BODIES
            for body in bodies:
                response = getattr(client, method)(
                    url, data=json.dumps(body), content_type="application/json", **auth
                )
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    failures.append((method, url, body, response.status_code))
        if "get" in operations:
            for query in QUERIES:
                response = client.get(f"{url}?{query}", **auth)
                if response.status_code >= 500:
                    failures.append(("get", url, query, response.status_code))
    assert failures == []
    assert seen.get(400, 0) > 1000  # the hostile bodies really were refused as bad input
    assert not MerchantAPIKey.objects.filter(name="fuzz", revoked=True).exists()
    assert Hold.objects.filter(points__lte=0).count() == 0
