"""Server-side request forgery: endpoints on private, loopback or link-local addresses are
refused when saved and again before every request, unless development allows them."""

from __future__ import annotations

import pytest

from events import network, services
from events.errors import WebhookUrlRefused
from events.models import DeliveryAttempt, WebhookEndpoint
from ledger import services as ledger
from loyaltysite.errors import ValidationFailed

from .conftest import run_due

pytestmark = pytest.mark.django_db

REFUSED = [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "::1", "fe80::1", "fc00::5", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "224.0.0.1", "192.0.2.10",
]


@pytest.mark.parametrize("address", REFUSED)
def test_a_host_resolving_to_a_non_public_address_is_refused(merchant, refuse_private,
                                                             public_dns, address):
    public_dns["internal.example.com"] = [address]

    with pytest.raises(WebhookUrlRefused) as refused:
        services.endpoint_create(merchant=merchant, url="https://internal.example.com/hook")

    assert refused.value.field == "url"
    assert address in refused.value.detail
    assert not WebhookEndpoint.objects.exists()


def test_every_resolved_address_is_checked_not_only_the_first(merchant, refuse_private,
                                                              public_dns):
    public_dns["mixed.example.com"] = ["93.184.215.14", "10.0.0.7"]

    with pytest.raises(WebhookUrlRefused, match="10.0.0.7"):
        services.endpoint_create(merchant=merchant, url="https://mixed.example.com/")


@pytest.mark.parametrize("url", [
    "http://localhost:8000/hook", "http://127.0.0.1/hook", "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/", "http://2130706433/",
])
def test_literal_and_local_names_are_refused(merchant, refuse_private, url):
    with pytest.raises((WebhookUrlRefused, ValidationFailed)):
        services.endpoint_create(merchant=merchant, url=url)


def test_a_host_that_does_not_resolve_is_refused(merchant, refuse_private, monkeypatch):
    def fail(host, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(network, "resolve", fail)
    with pytest.raises(WebhookUrlRefused, match="could not be resolved"):
        services.endpoint_create(merchant=merchant, url="https://nowhere.example.com/")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "https://user:pw@example.com/",
                                 "javascript:alert(1)", "https://", "not a url"])
def test_other_schemes_and_credentials_in_urls_are_refused(merchant, public_dns, url):
    with pytest.raises((WebhookUrlRefused, ValidationFailed)):
        services.endpoint_create(merchant=merchant, url=url)


def test_development_may_allow_private_networks(merchant, allow_private):
    endpoint = services.endpoint_create(merchant=merchant, url="http://127.0.0.1:9/hook")
    assert endpoint.pk


def test_a_name_that_turns_private_after_saving_is_refused_at_send_time(
        member, refuse_private, public_dns, clock, monkeypatch):
    """DNS rebinding: the address is checked again before the request, which then goes to
    the checked address only."""
    services.endpoint_create(merchant=member.merchant, url="https://rebind.example.com/hook")
    public_dns["rebind.example.com"] = ["127.0.0.1"]
    connections = []
    monkeypatch.setattr(network, "post", lambda *a, **k: connections.append(a))

    ledger.points_credit(member=member, points=5, actor="t")
    assert run_due(clock) == ["pending"]

    assert connections == []
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert "127.0.0.1" in attempt.error


def test_the_request_goes_to_the_address_that_was_checked(member, refuse_private, public_dns,
                                                          clock, monkeypatch):
    services.endpoint_create(merchant=member.merchant, url="https://shop.example.com/h?x=1")
    sent = []
    monkeypatch.setattr(network, "post", lambda target, body, headers, timeout: (
        sent.append(target), network.Answer(204, b"", 3))[1])

    ledger.points_credit(member=member, points=5, actor="t")
    assert run_due(clock) == ["delivered"]

    [target] = sent
    assert (target.host, target.port, target.path) == ("shop.example.com", 443, "/h?x=1")
    assert target.addresses == ("93.184.215.14",)


def test_is_public_reads_mapped_and_scoped_addresses():
    assert network.is_public("93.184.215.14")
    assert network.is_public("2606:4700:4700::1111")
    assert not network.is_public("::ffff:10.0.0.1")
    assert not network.is_public("fe80::1%eth0")
