"""Every event the platform writes matches the schema's ``Event`` (the catalogue receivers are
promised), whatever app wrote it: the demo makes events of every kind it can."""

from __future__ import annotations

from io import StringIO

import jsonschema
import pytest
from django.core.management import call_command

from events.models import OutboxEvent

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _json_schema(node):
    """OpenAPI 3.0's ``nullable`` as JSON Schema says it (what schemathesis does too)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            return {"anyOf": [node, {"type": "null"}]}
    return node


def test_every_event_the_demo_writes_matches_the_documented_catalogue(openapi_schema):
    call_command("loyalty_demo", stdout=StringIO())
    validator = jsonschema.Draft7Validator({
        "$ref": "#/components/schemas/Event",
        "components": _json_schema(openapi_schema["components"]),
    })

    mismatches = {}
    types = set()
    for event in OutboxEvent.objects.order_by("id").iterator():
        types.add(event.type)
        errors = sorted(validator.iter_errors(event.envelope()), key=lambda e: e.path)
        if errors and event.type not in mismatches:
            mismatches[event.type] = errors[0].message[:300]

    assert mismatches == {}
    assert {"member.enrolled", "points.earned", "order.recorded", "reward.redeemed",
            "referral.attributed", "tier.changed", "streak.broken"} <= types
