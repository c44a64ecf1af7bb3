"""The earning rule form without JSON (issue 12 item 3): each kind's fields build its config,
mistakes are field errors, and "Try it" answers in a panel beside the form."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from rules.forms import CONFIG_FIELDS, KIND_FIELDS, conditions_to_rows, config_initial
from rules.models import EarningRule
from tiers.models import Tier

pytestmark = pytest.mark.django_db

ADD = "admin:rules_earningrule_add"


def post(client, program, kind, fields, *, url=None, **extra):
    data = {"program": program.pk, "name": f"A {kind} rule", "kind": kind, "description": "",
            "is_active": "on", "priority": 0, "stackable": "on", "try_sample": ""}
    data.update(fields)
    data.update(extra)
    return client.post(url or reverse(ADD), data)


def saved_config(client, program, kind, fields):
    response = post(client, program, kind, fields)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return EarningRule.objects.get().config


def form_errors(response) -> dict:
    return {k: [str(m) for m in v] for k, v in response.context["adminform"].form.errors.items()}


@pytest.fixture
def gold(program):
    return Tier.objects.create(merchant=program.merchant, program=program, name="Gold", rank=2)


@pytest.mark.parametrize(("kind", "fields", "config"), [
    ("order", {"multiplier": "2", "min_amount": "10.00"},
     {"multiplier": "2", "min_amount": "10"}),
    ("order", {"points_per_unit": "0.5"}, {"points_per_unit": "0.5"}),
    ("order", {"points": "25"}, {"points": 25}),
    ("category", {"categories": "coffee, tea ,", "points_per_unit": "1.5"},
     {"categories": ["coffee", "tea"], "points_per_unit": "1.5"}),
    ("sku", {"skus": "ESP-1\nMUG", "points_per_item": "3"},
     {"skus": ["ESP-1", "MUG"], "points_per_item": 3}),
    ("event", {"event_type": "review", "points": "5"}, {"event_type": "review", "points": 5}),
    ("welcome", {"points": "50"}, {"points": 50}),
    ("birthday", {"points": "100"}, {"points": 100}),
])
def test_each_kind_builds_its_config_from_its_fields(owner_client, program, kind, fields,
                                                      config):
    assert saved_config(owner_client, program, kind, fields) == config


def test_a_tier_bonus_names_the_tier_chosen(owner_client, program, gold):
    config = saved_config(owner_client, program, "tier_bonus",
                          {"tier": gold.pk, "multiplier": "1.5"})

    assert config == {"tier": gold.pk, "multiplier": "1.5"}


def test_event_conditions_are_rows_of_field_operator_and_value(owner_client, program):
    rows = {
        "cond_0_field": "outcome", "cond_0_op": "eq", "cond_0_value": "approved",
        "cond_1_field": "metadata.stars", "cond_1_op": "gte", "cond_1_value": "4",
        "cond_2_field": "status", "cond_2_op": "in", "cond_2_value": "new, open, 3",
        "cond_3_field": "scope", "cond_3_op": "missing",
        "cond_4_field": "metadata.code", "cond_4_op": "ne", "cond_4_value": '"7"',
    }

    config = saved_config(owner_client, program, "event",
                          {"event_type": "review", "points": "5", **rows})

    assert config["conditions"] == {
        "outcome": "approved", "metadata.stars": {"gte": 4}, "status": ["new", "open", 3],
        "scope": {"exists": False}, "metadata.code": {"ne": "7"},
    }


def test_fields_of_another_kind_are_ignored(owner_client, program):
    config = saved_config(owner_client, program, "welcome",
                          {"points": "10", "categories": "coffee", "multiplier": "3",
                           "cond_0_field": "outcome", "cond_0_value": "x"})

    assert config == {"points": 10}


def test_editing_a_rule_shows_its_config_in_the_fields_and_keeps_it(owner_client, program,
                                                                    make_rule):
    rule = make_rule("event", {"event_type": "review", "points": 5, "conditions": {
        "outcome": "approved", "metadata.stars": {"gte": 4}}})
    url = reverse("admin:rules_earningrule_change", args=[rule.pk])

    page = owner_client.get(url)
    form = page.context["adminform"].form
    assert form.initial["event_type"] == "review"
    assert (form.initial["cond_1_field"], form.initial["cond_1_op"],
            form.initial["cond_1_value"]) == ("metadata.stars", "gte", "4")

    shown = {k: v for k, v in form.initial.items() if k in CONFIG_FIELDS or k.startswith("cond_")}
    response = post(owner_client, program, "event", {**shown, "name": "Renamed"}, url=url)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Renamed"
    assert rule.config == {"event_type": "review", "points": 5, "conditions": {
        "outcome": "approved", "metadata.stars": {"gte": 4}}}


def test_changing_only_the_config_fields_saves_the_new_config(owner_client, program, make_rule):
    rule = make_rule("order", {"multiplier": "2"})
    url = reverse("admin:rules_earningrule_change", args=[rule.pk])

    post(owner_client, program, "order", {"multiplier": "3"}, url=url, name=rule.name)

    rule.refresh_from_db()
    assert rule.config == {"multiplier": "3"}


@pytest.mark.parametrize(("kind", "fields", "field", "text"), [
    ("order", {}, "multiplier", "exactly one of"),
    ("order", {"multiplier": "2", "points": "5"}, "points", "exactly one of"),
    ("order", {"multiplier": "1000"}, "multiplier", "at most 100"),
    ("order", {"points": "5", "min_amount": "-1"}, "min_amount", "greater than or equal to 0"),
    ("category", {"multiplier": "2"}, "categories", "Required"),
    ("category", {"categories": "x" * 65, "multiplier": "2"}, "categories", "1 to 64"),
    ("event", {"points": "5"}, "event_type", "Required"),
    ("event", {"event_type": "bad type!", "points": "5"}, "event_type", "letters, digits"),
    ("event", {"event_type": "review", "points": "5", "cond_0_field": "colour",
               "cond_0_value": "red"}, "cond_0_field", "unknown condition"),
    ("event", {"event_type": "review", "points": "5", "cond_0_field": "metadata.stars",
               "cond_0_op": "gt", "cond_0_value": "many"}, "cond_0_value", "number"),
    ("event", {"event_type": "review", "points": "5", "cond_0_op": "eq",
               "cond_0_value": "x"}, "cond_0_field", "Which field"),
    ("event", {"event_type": "review", "points": "5", "cond_0_field": "outcome",
               "cond_0_op": "eq"}, "cond_0_value", "value is required"),
    ("welcome", {}, "points", "Required"),
    ("tier_bonus", {"multiplier": "2"}, "tier", "Required"),
])
def test_mistakes_are_errors_on_the_field_and_nothing_is_saved(owner_client, program, kind,
                                                               fields, field, text):
    response = post(owner_client, program, kind, fields)

    assert response.status_code == 200
    errors = form_errors(response)
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert not EarningRule.objects.exists()


def test_the_form_has_no_json_field_and_the_kind_tells_the_script_its_fields(owner_client,
                                                                            program):
    page = owner_client.get(reverse(ADD))
    html = page.content.decode()
    form = page.context["adminform"].form

    assert "config" not in form.fields
    assert json.loads(form.fields["kind"].widget.attrs["data-kind-fields"]) == KIND_FIELDS
    assert "rules/rule_form.js" in html
    assert "rules/rule_form.css" in html


SAMPLE = json.dumps({"amount": "10.00", "items": [
    {"sku": "ESP", "category": "coffee", "quantity": 2, "price": "5.00"}]})


def test_try_it_shows_the_result_in_a_panel_beside_the_form_not_as_an_error(owner_client,
                                                                            program):
    response = post(owner_client, program, "category",
                    {"categories": "coffee", "multiplier": "3", "try_sample": SAMPLE,
                     "_try": "1"})

    html = response.content.decode()
    panel = html[html.index('<aside class="rule-try-panel'):]
    panel = panel[:panel.index("</aside>")]
    assert "This rule would award 20 points." in panel
    assert not response.context["adminform"].form.errors
    assert not response.context["errors"]
    assert "Please correct" not in html
    assert not EarningRule.objects.exists()


def test_try_it_with_a_broken_sample_says_why_in_the_panel(owner_client, program):
    response = post(owner_client, program, "order", {"points": "5", "try_sample": "[1, 2]",
                                                     "_try": "1"})

    html = response.content.decode()
    panel = html[html.index('<aside class="rule-try-panel'):]
    assert "must be a JSON object" in panel[:panel.index("</aside>")]
    assert "Please correct" not in html


def test_try_it_on_a_rule_with_mistakes_shows_the_field_errors(owner_client, program):
    response = post(owner_client, program, "order", {"try_sample": SAMPLE, "_try": "1"})

    assert "multiplier" in form_errors(response)
    assert response.context["adminform"].form.try_result is None


def test_saved_conditions_come_back_as_the_same_rows():
    conditions = {"outcome": "approved", "status": ["a", "b"], "scope": {"exists": True},
                  "metadata.n": {"lt": 3.5}, "metadata.flag": True, "metadata.code": "12"}

    rows = conditions_to_rows(conditions)

    assert rows == [("outcome", "eq", "approved"), ("status", "in", "a, b"),
                    ("scope", "exists", ""), ("metadata.n", "lt", "3.5"),
                    ("metadata.flag", "eq", "true"), ("metadata.code", "eq", '"12"')]
    assert config_initial({"conditions": conditions})["cond_5_value"] == '"12"'


def test_the_rule_pages_run_no_inline_script(owner_client, program, make_rule):
    from tests.accounts.html_scan import inline_parts

    rule = make_rule("event", {"event_type": "review", "points": 5})
    pages = [
        owner_client.get(reverse(ADD)),
        owner_client.get(reverse("admin:rules_earningrule_change", args=[rule.pk])),
        post(owner_client, program, "order", {"points": "5", "try_sample": SAMPLE, "_try": "1"}),
    ]

    for response in pages:
        found = inline_parts(response.content.decode())
        assert (found.scripts, found.handlers) == ([], [])
