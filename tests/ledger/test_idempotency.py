"""Idempotency keys (SPEC 5): the first outcome is kept and replayed, for the same request only."""

from __future__ import annotations

import pytest

from ledger import services
from ledger.idempotency import fingerprint, purge_expired_keys, run_idempotent
from ledger.models import Entry, IdempotencyKey
from loyaltysite.errors import IdempotencyConflict, InsufficientPoints, ValidationFailed
from members.models import Member
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db


class Calls:
    """A ``run`` callable that counts its calls and credits the member each time."""

    def __init__(self, member: Member, points: int = 10) -> None:
        self.member, self.points, self.count = member, points, 0

    def __call__(self) -> tuple[int, dict]:
        self.count += 1
        entry = services.points_credit(member=self.member, points=self.points, actor="t")
        return 201, {"entry": entry.pk, "balance_after": entry.balance_after}


def _run(member: Member, run, *, key: str = "k1", fp: str = "fp", program_id=None, clock=None):
    kwargs = {"clock": clock} if clock else {}
    return run_idempotent(
        merchant_id=member.merchant_id,
        program_id=member.program_id if program_id is None else program_id,
        key=key, request_fingerprint=fp, run=run, **kwargs,
    )


def test_the_same_request_replays_the_first_status_and_body_and_writes_nothing(member, clock):
    run = Calls(member)
    first = _run(member, run)

    second = _run(member, run)

    assert (second.status, second.body) == (first.status, first.body)
    assert (first.replayed, second.replayed) == (False, True)
    assert run.count == 1
    assert Entry.objects.filter(member=member).count() == 1
    assert Member.objects.get(pk=member.pk).balance == 10


def test_the_same_key_with_a_different_request_is_a_conflict(member, clock):
    _run(member, Calls(member), fp=fingerprint("POST", "/earn/", {"points": 10}))

    with pytest.raises(IdempotencyConflict) as caught:
        _run(member, Calls(member), fp=fingerprint("POST", "/earn/", {"points": 11}))

    assert (caught.value.code, caught.value.status) == ("IDEMPOTENCY_CONFLICT", 422)
    assert Entry.objects.filter(member=member).count() == 1


def test_a_business_rejection_is_kept_and_replayed_even_once_it_would_succeed(member, clock):
    def debit():
        services.points_debit(member=member, points=50, actor="t")
        return 201, {"ok": True}

    first = _run(member, debit)
    services.points_credit(member=member, points=100, actor="t")  # now there would be enough
    second = _run(member, debit)

    assert first.status == second.status == 422
    assert first.body == second.body
    assert first.body["code"] == InsufficientPoints.code
    assert second.replayed
    assert Member.objects.get(pk=member.pk).balance == 100
    record = IdempotencyKey.objects.get()
    assert record.status_code == 422


def test_a_rejection_rolls_back_what_the_run_wrote_before_it(member, clock):
    def credit_then_fail():
        services.points_credit(member=member, points=30, actor="t")
        services.points_debit(member=member, points=1000, actor="t")
        return 201, {}

    outcome = _run(member, credit_then_fail)

    assert outcome.status == 422
    assert Entry.objects.filter(member=member).count() == 0
    assert Member.objects.get(pk=member.pk).balance == 0


def test_a_rejection_answers_with_the_outcome_of_a_request_that_claimed_the_key_meanwhile(
    member, clock, monkeypatch
):
    """Between the refused attempt's rollback and recording the refusal, another request with
    the same key may claim it and succeed: its outcome is then the key's, and the answer."""
    from ledger import idempotency

    real_claim = idempotency._claim
    claims = []

    def claim(**kwargs):
        claims.append(kwargs)
        if len(claims) == 2:  # recording the refusal: someone else got there first
            real_claim(**{**kwargs, "status": 201, "body": {"winner": True}})
        return real_claim(**kwargs)

    monkeypatch.setattr(idempotency, "_claim", claim)

    def debit():
        services.points_debit(member=member, points=50, actor="t")
        return 201, {}

    outcome = _run(member, debit)

    assert (outcome.status, outcome.body, outcome.replayed) == (201, {"winner": True}, True)
    assert IdempotencyKey.objects.get().status_code == 201


def test_a_malformed_request_records_nothing_so_the_key_can_be_used_again(member, clock):
    def malformed():
        raise ValidationFailed("points must be positive.", field="points")

    with pytest.raises(ValidationFailed):
        _run(member, malformed)
    assert not IdempotencyKey.objects.exists()

    run = Calls(member)
    assert _run(member, run).status == 201
    assert run.count == 1


def test_an_unexpected_error_records_nothing(member, clock):
    def crash():
        services.points_credit(member=member, points=5, actor="t")
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        _run(member, crash)

    assert not IdempotencyKey.objects.exists()
    assert Entry.objects.filter(member=member).count() == 0


def test_keys_are_scoped_per_program(member, program, clock):
    second_program = ProgramFactory(merchant=program.merchant)
    other = MemberFactory(program=second_program, customer=member.customer)
    run_a, run_b = Calls(member), Calls(other)

    _run(member, run_a, key="same")
    _run(other, run_b, key="same")

    assert (run_a.count, run_b.count) == (1, 1)
    assert IdempotencyKey.objects.count() == 2


def test_keys_are_scoped_per_merchant(member, other_member, clock):
    run_a, run_b = Calls(member), Calls(other_member)

    _run(member, run_a, key="same")
    _run(other_member, run_b, key="same")

    assert (run_a.count, run_b.count) == (1, 1)


def test_keys_are_kept_for_the_retention_period_then_purged(member, clock, settings):
    settings.LOYALTY = {**settings.LOYALTY, "IDEMPOTENCY_TTL_HOURS": 1}  # floor is 24 hours
    run = Calls(member)
    _run(member, run, clock=clock)

    clock.advance(hours=23, minutes=59)
    assert purge_expired_keys(clock=clock) == 0
    assert _run(member, run, clock=clock).replayed

    clock.advance(minutes=2)
    assert purge_expired_keys(clock=clock) == 1
    assert not _run(member, run, clock=clock).replayed  # a fresh key after the purge
    assert run.count == 2


def test_the_api_replays_an_earn_with_the_same_key_and_says_so(api, program, member, clock):
    url = f"/api/v1/programs/{program.pk}/members/{member.pk}/earn/"
    body = {"points": 25, "reason": "welcome"}

    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    second = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    changed = api.post(url, {**body, "points": 26}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert changed.status_code == 422
    assert changed.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert Member.objects.get(pk=member.pk).balance == 25


def test_the_api_records_nothing_for_a_malformed_request(api, program, member, clock):
    url = f"/api/v1/programs/{program.pk}/members/{member.pk}/earn/"

    bad = api.post(url, {"points": -3, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    good = api.post(url, {"points": 3, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert bad.status_code == 400
    assert good.status_code == 201
    assert Member.objects.get(pk=member.pk).balance == 3
