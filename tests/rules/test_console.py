"""The rules console (Owners edit, Managers read, "Try it" saves nothing) and the portal page."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from rules.forms import config_initial
from rules.models import EarningRule, Event, Order

from .conftest import fresh

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def rule_form(program, **changes) -> dict:
    """The rule form as posted; ``config`` (a dict or JSON) becomes the kind's fields."""
    config = changes.pop("config", {"categories": ["coffee"], "multiplier": "3"})
    data = {
        "program": program.pk, "name": "Coffee x3", "kind": "category", "description": "",
        "is_active": "on", "priority": 0, "stackable": "on", "try_sample": "",
    }
    data.update(config_initial(json.loads(config) if isinstance(config, str) else config))
    data.update(changes)
    return data


SAMPLE = json.dumps({"amount": "20.00", "items": [
    {"sku": "ESP", "category": "coffee", "quantity": 2, "price": "5.00"},
    {"sku": "MUG", "category": "merch", "quantity": 1, "price": "10.00"}]})


@pytest.fixture
def history(program, member, make_rule, order, clock):
    """Rules of several kinds; one fired twice, one never."""
    double = make_rule("order", {"multiplier": "2"}, name="Double")
    make_rule("event", {"event_type": "review", "points": 5}, name="Review")
    order("10.00")
    order("5.00")
    order("8.00", order_id="R-1")
    from rules import services
    from rules.services import Customer

    services.event_record(program=program, type="review", event_id="e1",
                          customer=Customer(member=str(member.pk)), actor="t", clock=clock)
    return double


def test_the_rule_list_counts_awards_and_points_per_rule(owner_client, history):
    response = owner_client.get(url("rules_earningrule_changelist"))

    assert response.status_code == 200
    rows = {r.name: (r.award_count, r.points_awarded) for r in response.context["cl"].result_list}
    assert rows == {"Double": (3, 23), "Review": (1, 5)}


def test_rule_order_and_event_pages_render_for_owner_and_manager(owner_client, manager_user,
                                                                 history):
    from django.test import Client

    manager = Client()
    manager.force_login(manager_user)
    order = Order.objects.first()
    event = Event.objects.first()
    for client in (owner_client, manager):
        for page in (url("rules_earningrule_changelist"), url("rules_order_changelist"),
                     url("rules_event_changelist"),
                     url("rules_earningrule_change", history.pk),
                     url("rules_order_change", order.pk), url("rules_event_change", event.pk)):
            assert client.get(page).status_code == 200, page
    assert owner_client.get(url("rules_earningrule_add")).status_code == 200


def test_an_owner_creates_a_rule_through_the_form(owner_client, program):
    response = owner_client.post(url("rules_earningrule_add"), rule_form(program))

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = EarningRule.objects.get()
    assert rule.merchant_id == program.merchant_id
    assert rule.config == {"categories": ["coffee"], "multiplier": "3"}


def test_a_bad_config_is_shown_on_the_form_and_not_saved(owner_client, program):
    response = owner_client.post(url("rules_earningrule_add"), rule_form(
        program, config={"categories": ["coffee"], "multiplier": "1000"}))

    assert response.status_code == 200
    assert "multiplier" in response.context["adminform"].form.errors
    assert not EarningRule.objects.exists()


def test_try_it_evaluates_the_unsaved_rule_against_a_sample_and_saves_nothing(
    owner_client, program, snapshot
):
    before = snapshot()

    response = owner_client.post(url("rules_earningrule_add"),
                                 {**rule_form(program, try_sample=SAMPLE), "_try": "1"})

    assert response.status_code == 200
    result = response.context["adminform"].form.try_result
    assert result["rule_points"] == 20  # 10.00 of coffee at 3x: 20 extra
    assert result["total_points"] == 40
    assert "This rule would award 20 points." in response.content.decode()
    assert snapshot() == before


def test_try_it_on_a_saved_rule_uses_the_edits_not_the_saved_rule(owner_client, program,
                                                                  make_rule):
    rule = make_rule("category", {"categories": ["coffee"], "multiplier": "3"})

    response = owner_client.post(
        url("rules_earningrule_change", rule.pk),
        {**rule_form(program, config=json.dumps({"categories": ["merch"], "multiplier": "2"}),
                     try_sample=SAMPLE), "_try": "1"},
    )

    assert response.context["adminform"].form.try_result["rule_points"] == 10
    rule.refresh_from_db()
    assert rule.config["categories"] == ["coffee"]


def test_try_it_with_an_event_sample(owner_client, program):
    form = rule_form(program, kind="event", config=json.dumps({
        "event_type": "review", "points": 7, "conditions": {"metadata.stars": {"gte": 4}}}),
        try_sample=json.dumps({"type": "review", "metadata": {"stars": 5}}))

    response = owner_client.post(url("rules_earningrule_add"), {**form, "_try": "1"})

    assert response.context["adminform"].form.try_result["rule_points"] == 7


def test_try_it_with_a_broken_sample_says_why(owner_client, program):
    response = owner_client.post(url("rules_earningrule_add"),
                                 {**rule_form(program, try_sample="{not json"), "_try": "1"})

    form = response.context["adminform"].form
    assert "not valid JSON" in form.try_error
    assert not form.errors
    assert not EarningRule.objects.exists()


def test_a_manager_cannot_change_or_add_rules(manager_client, program, make_rule):
    rule = make_rule("order", {"points": 1})

    assert manager_client.get(url("rules_earningrule_add")).status_code == 403
    response = manager_client.post(url("rules_earningrule_change", rule.pk),
                                   rule_form(program, name="hijacked"))
    assert response.status_code == 403
    rule.refresh_from_db()
    assert rule.name != "hijacked"


def test_another_merchants_rule_is_not_found_in_the_console(owner_client, other_program):
    from rules import services

    theirs = services.rule_create(program=other_program, name="x", kind="welcome",
                                  config={"points": 5})

    assert owner_client.get(url("rules_earningrule_change", theirs.pk)).status_code == 404
    listed = owner_client.get(url("rules_earningrule_changelist")).context["cl"].result_list
    assert list(listed) == []


def test_deleting_a_rule_in_the_console_keeps_its_history(owner_client, history):
    response = owner_client.post(url("rules_earningrule_delete", history.pk), {"post": "yes"})

    assert response.status_code == 302
    history.refresh_from_db()
    assert history.deleted_at is not None


# -- portal -----------------------------------------------------------------------------------


def test_the_portal_lists_the_active_rules_in_plain_words(customer_client, member, make_rule,
                                                          other_program):
    from rules import services

    make_rule("category", {"categories": ["coffee", "tea"], "multiplier": "2"})
    make_rule("event", {"event_type": "review", "points": 50}, max_per_member=1)
    make_rule("welcome", {"points": 100})
    make_rule("order", {"points": 5}, is_active=False, name="hidden")
    services.rule_create(program=other_program, name="theirs", kind="welcome",
                         config={"points": 999})

    response = customer_client.get(reverse("rules_portal:how-to-earn"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Earn 1 points per EUR you spend." in page
    assert "Earn 2× points on coffee and tea." in page
    assert "Earn 50 points for each review (once per customer)." in page
    assert "Get 100 points when you join." in page
    assert "999" not in page
    assert member.program.name in page


def test_the_portal_page_needs_a_signed_in_customer(client):
    response = client.get(reverse("rules_portal:how-to-earn"))

    assert response.status_code == 302


def test_the_welcome_rule_shows_on_the_portal_and_is_paid_once(customer_client, member,
                                                               make_rule, clock):
    from rules import services

    make_rule("welcome", {"points": 100})
    services.award_welcome(member=member, clock=clock)
    services.award_welcome(member=member, clock=clock)

    assert fresh(member).balance == 100
