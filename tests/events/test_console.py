"""The console's webhook pages: Owners only, scoped to their merchant, actions through the
services, the delivery log with its failures filter and resend, the disabled notice."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from events import services
from events.models import Delivery, DeliveryAttempt, WebhookEndpoint
from ledger import services as ledger

from .conftest import run_due

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:events_{name}", args=args)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def logged(merchant, member, allow_private, receiver, clock):
    """An endpoint with one delivered and one failed-then-pending delivery in its log."""
    endpoint = services.endpoint_create(merchant=merchant, url=receiver.url,
                                        description="CRM")
    receiver.answer((500, 0, b"boom"))
    ledger.points_credit(member=member, points=5, actor="t")
    ledger.points_credit(member=member, points=6, actor="t")
    run_due(clock)
    return endpoint


@pytest.fixture
def foreign(other_merchant, other_member, public_dns, clock, monkeypatch):
    from events import network

    endpoint = services.endpoint_create(merchant=other_merchant, url="https://r.example.com/")
    monkeypatch.setattr(network, "post", lambda *a, **k: network.Answer(200, b"ok", 1))
    ledger.points_credit(member=other_member, points=5, actor="t")
    run_due(clock, merchant=other_merchant)
    return endpoint


def test_the_pages_render_for_an_owner(owner_client, logged):
    for page in (url("webhookendpoint_changelist"), url("webhookendpoint_add"),
                 url("webhookendpoint_change", logged.pk),
                 url("webhookendpoint_send_test", logged.pk),
                 url("webhookendpoint_rotate_secret", logged.pk),
                 url("deliveryattempt_changelist"),
                 url("deliveryattempt_change", DeliveryAttempt.objects.first().pk),
                 url("deliveryattempt_resend", DeliveryAttempt.objects.first().pk)):
        assert owner_client.get(page).status_code == 200, page


def test_the_endpoint_page_shows_the_secret_behind_a_disclosure(owner_client, logged):
    page = owner_client.get(url("webhookendpoint_change", logged.pk)).content.decode()
    assert "<details><summary>Show the signing secret</summary>" in page
    assert logged.secret in page


def test_a_manager_has_no_webhook_pages(manager_client, logged):
    assert manager_client.get(url("webhookendpoint_changelist")).status_code == 403
    assert manager_client.get(url("webhookendpoint_change", logged.pk)).status_code == 403
    assert manager_client.get(url("deliveryattempt_changelist")).status_code == 403


def test_an_owner_adds_an_endpoint_through_the_service(owner_client, merchant, public_dns):
    response = owner_client.post(url("webhookendpoint_add"), {
        "url": "https://crm.example.com/hooks", "description": "CRM",
        "event_types": ["points.*", "member.enrolled"], "is_active": "on",
    })

    assert response.status_code == 302, response.content.decode()[-3000:]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.merchant == merchant
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.event_types == ["points.*", "member.enrolled"]


def test_the_form_refuses_a_private_address_on_the_url_field(owner_client, refuse_private):
    response = owner_client.post(url("webhookendpoint_add"), {
        "url": "http://127.0.0.1:6379/", "description": "", "is_active": "on",
    })

    assert response.status_code == 200
    assert "private, loopback or link-local" in response.context["adminform"].form.errors["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_the_actions_send_a_test_rotate_and_enable(owner_client, logged):
    assert owner_client.post(url("webhookendpoint_send_test", logged.pk)).status_code == 302
    assert Delivery.objects.filter(event__type="webhook.test").count() == 1

    old = logged.secret
    owner_client.post(url("webhookendpoint_rotate_secret", logged.pk))
    rotated = WebhookEndpoint.objects.get(pk=logged.pk)
    assert (rotated.previous_secret, rotated.secret != old) == (old, True)

    WebhookEndpoint.objects.filter(pk=logged.pk).update(is_active=False)
    owner_client.post(url("webhookendpoint_enable", logged.pk))
    assert WebhookEndpoint.objects.get(pk=logged.pk).is_active


def test_a_disabled_endpoint_is_announced_on_the_list_and_its_page(owner_client, logged, clock):
    WebhookEndpoint.objects.filter(pk=logged.pk).update(
        is_active=False, disabled_at=clock.now(), failing_since=clock.now(),
        disabled_reason="Disabled automatically: every delivery failed for 5 days.")

    for page in (url("webhookendpoint_changelist"), url("webhookendpoint_change", logged.pk)):
        text = owner_client.get(page).content.decode()
        assert "is disabled since 2026-01-15 12:00 UTC" in text
        assert "every delivery failed for 5 days" in text


def test_the_log_shows_attempts_and_filters_failures(owner_client, logged):
    everything = owner_client.get(url("deliveryattempt_changelist"))
    failures = owner_client.get(url("deliveryattempt_changelist"), {"outcome": "failed"})
    by_endpoint = owner_client.get(url("deliveryattempt_changelist"),
                                   {"endpoint__id__exact": logged.pk})

    assert len(everything.context["cl"].result_list) == 2
    [failed] = failures.context["cl"].result_list
    assert (failed.status_code, failed.response_excerpt) == (500, "boom")
    assert len(by_endpoint.context["cl"].result_list) == 2
    text = failures.content.decode()
    assert "boom" in text
    assert "points.earned" in text


def test_resend_queues_the_delivery_again(owner_client, logged, clock):
    attempt = DeliveryAttempt.objects.get(succeeded=True)

    response = owner_client.post(url("deliveryattempt_changelist"), {
        "action": "resend_selected", "_selected_action": [attempt.pk],
    })
    assert response.status_code == 302
    assert attempt.delivery.__class__.objects.get(pk=attempt.delivery_id).status == "pending"
    owner_client.post(url("deliveryattempt_resend", attempt.pk))
    assert run_due(clock, pk=attempt.delivery_id) == ["delivered"]


def test_another_merchants_endpoints_and_log_are_invisible(client, other_owner_user, logged,
                                                           foreign):
    client.force_login(other_owner_user)
    mine = DeliveryAttempt.objects.filter(endpoint=logged).first()

    for page in (url("webhookendpoint_change", logged.pk),
                 url("webhookendpoint_send_test", logged.pk),
                 url("webhookendpoint_rotate_secret", logged.pk),
                 url("deliveryattempt_change", mine.pk),
                 url("deliveryattempt_resend", mine.pk)):
        assert client.get(page).status_code == 404, page
    assert client.post(url("webhookendpoint_send_test", logged.pk)).status_code == 404
    assert client.post(url("deliveryattempt_resend", mine.pk)).status_code == 404
    listed = client.get(url("webhookendpoint_changelist")).context["cl"].result_list
    assert [e.pk for e in listed] == [foreign.pk]
    log = client.get(url("deliveryattempt_changelist")).context["cl"].result_list
    assert {a.endpoint_id for a in log} == {foreign.pk}
    client.post(url("deliveryattempt_changelist"), {
        "action": "resend_selected", "_selected_action": [mine.pk]})
    assert Delivery.objects.get(pk=mine.delivery_id).status == "delivered"
    assert not Delivery.objects.filter(endpoint=logged, event__type="webhook.test").exists()


def test_the_task_queue_is_the_operators_only(owner_client, client, admin_user, logged):
    page = reverse("admin:django_tasks_database_dbtaskresult_changelist")
    assert owner_client.get(page).status_code == 403
    client.force_login(admin_user)
    assert client.get(page).status_code == 200


def test_the_log_finds_an_event_by_the_id_receivers_see(owner_client, logged):
    attempt = DeliveryAttempt.objects.filter(endpoint=logged).select_related(
        "delivery__event").first()
    event_id = attempt.delivery.event.event_id

    found = owner_client.get(url("deliveryattempt_changelist"), {"q": event_id})
    by_type = owner_client.get(url("deliveryattempt_changelist"), {"q": "points.earned"})
    unknown = owner_client.get(url("deliveryattempt_changelist"),
                               {"q": "evt_" + "0" * 32})

    assert {a.delivery.event.event_id for a in found.context["cl"].result_list} == {event_id}
    assert len(by_type.context["cl"].result_list) == 2
    assert list(unknown.context["cl"].result_list) == []
