"""Referrals in the console: lists with filters and the funnel, a referral's page, approve and
reject (one and in bulk) for Managers and Owners, codes, settings for Owners only; another
merchant's rows are not found."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from referrals import services
from referrals.models import Referral, ReferralCode, ReferralSettings

from ..factories import MemberFactory
from ..members.conftest import login
from .conftest import referral_of, terms

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:referrals_{name}", args=args)


@pytest.fixture
def rows(program, referrer, code, join, buy, clock):
    """A rewarded, a pending and a converted (waiting for review) referral."""
    rewarded, _ = join("F-1", name="Rita Rewarded")
    buy(rewarded, "30.00", order_id="sale-1")
    terms(program, requires_approval=True)
    pending, _ = join("F-2", name="Paul Pending")
    waiting, _ = join("F-3", name="Wanda Waiting")
    buy(waiting, "30.00", order_id="sale-3")
    return {name: referral_of(m) for name, m in
            (("rewarded", rewarded), ("pending", pending), ("converted", waiting))}


@pytest.fixture
def foreign(other_program, clock):
    owner = MemberFactory(program=other_program)
    their_code, _ = services.referral_code_get_or_create(member=owner, clock=clock)
    outcome = services.referral_attribute(
        program=other_program, code=their_code.code, referee=MemberFactory(program=other_program),
        channel="checkout", actor="t", clock=clock,
    )
    settings = terms(other_program, referrer_points=7)
    return {"referral": outcome.referral, "code": their_code, "settings": settings}


@pytest.mark.slow
@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_the_pages_render_for_owners_and_managers(request, who, rows, code):
    client = request.getfixturevalue(who)
    for target in (url("referral_changelist"), url("referralcode_changelist"),
                   url("referralsettings_changelist"),
                   url("referral_change", rows["converted"].pk),
                   url("referral_approve", rows["pending"].pk),
                   url("referral_reject", rows["pending"].pk),
                   url("referralcode_change", code.pk)):
        assert client.get(target).status_code == 200, target


def test_the_list_shows_the_funnel_and_the_top_referrers(owner_client, rows, referrer):
    response = owner_client.get(url("referral_changelist"))

    assert response.context["funnel"] == {
        "codes": 1, "attributed": 3, "converted": 2, "rewarded": 1, "rejected": 0,
        "clawed_back": 0, "expired": 0, "awaiting_review": 2,
    }
    [top] = response.context["top_referrers"]
    assert (top["member"], top["attributed"], top["converted"], top["rewarded"],
            top["points"]) == (referrer, 3, 2, 1, 200)
    page = response.content.decode()
    assert "Top referrers" in page
    assert referrer.card_id_display in page


def test_the_funnel_follows_the_list_filters(owner_client, rows, program, other_program):
    response = owner_client.get(url("referral_changelist"),
                                {"program__id__exact": other_program.pk})
    assert response.context["funnel"]["attributed"] == 0
    response = owner_client.get(url("referral_changelist"),
                                {"created_at__gte": "2030-01-01 00:00:00+00:00",
                                 "program__id__exact": "x"})
    assert response.context["funnel"]["attributed"] == 0


def test_the_list_filters_and_search(owner_client, rows, code):
    response = owner_client.get(url("referral_changelist"), {"status__exact": "converted"})
    assert [r.pk for r in response.context["cl"].result_list] == [rows["converted"].pk]
    response = owner_client.get(url("referral_changelist"), {"q": code.code.lower()})
    assert len(response.context["cl"].result_list) == 3
    response = owner_client.get(url("referral_changelist"), {"q": "sale-3"})
    assert len(response.context["cl"].result_list) == 0  # source is empty; order is not searched
    response = owner_client.get(url("referral_changelist"), {"decision__exact": ""})
    assert response.status_code == 200


def test_a_referral_shows_both_members_and_its_order(owner_client, rows, referrer):
    referral = rows["converted"]
    page = owner_client.get(url("referral_change", referral.pk)).content.decode()

    assert referrer.card_id_display in page
    assert referral.referee.card_id_display in page
    assert reverse("admin:rules_order_change", args=[referral.order_id]) in page
    assert "sale-3" in page
    assert reverse("admin:members_member_change", args=[referral.referee_id]) in page


def test_a_manager_approves_a_converted_referral_and_both_are_rewarded(manager_client, rows,
                                                                       manager_user):
    referral = rows["converted"]
    response = manager_client.post(url("referral_approve", referral.pk), {"reason": "Checked"})

    assert response.status_code == 302
    referral.refresh_from_db()
    assert (referral.status, referral.decided_by, referral.decision_reason) == (
        "rewarded", f"staff:{manager_user.pk}", "Checked"
    )


def test_rejecting_needs_a_reason(manager_client, rows):
    referral = rows["pending"]
    response = manager_client.post(url("referral_reject", referral.pk), {"reason": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    referral.refresh_from_db()
    assert referral.status == "pending"

    manager_client.post(url("referral_reject", referral.pk), {"reason": "Duplicate account"})
    referral.refresh_from_db()
    assert (referral.status, referral.decision_reason) == ("rejected", "Duplicate account")


def test_a_final_referral_offers_nothing_to_do(owner_client, rows):
    response = owner_client.get(url("referral_approve", rows["rewarded"].pk))
    assert "Nothing to do" in response.content.decode()
    response = owner_client.post(url("referral_reject", rows["rewarded"].pk), {"reason": "x"},
                                 follow=True)
    assert "cannot be rejected" in response.content.decode()


def _bulk(client, action: str, referrals, **extra):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [r.pk for r in referrals], **extra}
    return client.post(url("referral_changelist"), data)


def test_bulk_reject_asks_for_a_reason_then_rejects(manager_client, rows):
    targets = [rows["pending"], rows["converted"]]

    asked = _bulk(manager_client, "reject_selected", targets)
    assert asked.status_code == 200
    assert "referrals/admin/review.html" in [t.name for t in asked.templates]

    done = _bulk(manager_client, "reject_selected", targets, apply="1", reason="Ring of fakes")
    assert done.status_code == 302
    assert set(Referral.objects.filter(pk__in=[r.pk for r in targets])
               .values_list("status", "decision_reason")) == {("rejected", "Ring of fakes")}


def test_bulk_approve_reports_what_could_not_be_approved(owner_client, rows):
    response = _bulk(owner_client, "approve_selected", rows.values(), apply="1", reason="")

    assert response.status_code == 302
    statuses = dict(Referral.objects.values_list("pk", "status"))
    assert statuses[rows["pending"].pk] == "approved"
    assert statuses[rows["converted"].pk] == "rewarded"
    assert statuses[rows["rewarded"].pk] == "rewarded"


def test_a_user_without_the_review_permission_cannot_review(client, rows, merchant):
    from django.contrib.auth.models import Permission

    from members.models import StaffMembership

    from ..factories import UserFactory

    viewer = UserFactory(is_staff=True)
    StaffMembership.objects.create(user=viewer, merchant=merchant, role="manager")
    viewer.user_permissions.add(Permission.objects.get(codename="view_referral"))
    client.force_login(viewer)

    assert client.get(url("referral_changelist")).status_code == 200
    assert client.post(url("referral_approve", rows["pending"].pk)).status_code == 403
    _bulk(client, "approve_selected", [rows["pending"]], apply="1")
    assert Referral.objects.get(pk=rows["pending"].pk).status == "pending"


def test_codes_are_deactivated_and_regenerated(manager_client, referrer, code):
    manager_client.post(url("referralcode_deactivate", code.pk))
    code.refresh_from_db()
    assert code.is_active is False

    response = manager_client.post(url("referralcode_regenerate", code.pk))
    new = ReferralCode.objects.get(member=referrer, is_active=True)
    assert response["Location"] == url("referralcode_change", new.pk)


def test_bulk_deactivate_codes(owner_client, code):
    owner_client.post(url("referralcode_changelist"), {
        "action": "deactivate_selected", helpers.ACTION_CHECKBOX_NAME: [code.pk],
    })
    code.refresh_from_db()
    assert code.is_active is False


def test_an_owner_sets_the_terms_and_a_manager_only_reads_them(owner_user, manager_user,
                                                               program):
    owner_client, manager_client = login(owner_user), login(manager_user)
    form = {
        "program": program.pk, "is_enabled": "on", "requires_approval": "on",
        "new_customers_only": "on", "referrer_reward_kind": "points", "referrer_points": 500,
        "referrer_reward": "", "referee_reward_kind": "none", "referee_points": 0,
        "referee_reward": "", "min_order_amount": "15.00", "conversion_window_days": 60,
        "limit_count": 5, "limit_period_days": 7,
    }
    assert manager_client.post(url("referralsettings_add"), form).status_code == 403

    response = owner_client.post(url("referralsettings_add"), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = ReferralSettings.objects.get(program=program)
    assert (saved.referrer_points, saved.referee_reward_kind, saved.limit_count) == (
        500, "none", 5
    )
    change = url("referralsettings_change", saved.pk)
    assert manager_client.post(change, {**form, "referrer_points": 1}).status_code == 403
    assert manager_client.get(change).status_code == 200


def test_the_terms_form_refuses_a_reward_kind_without_a_reward(owner_client, program):
    response = owner_client.post(url("referralsettings_add"), {
        "program": program.pk, "is_enabled": "on", "referrer_reward_kind": "reward",
        "referrer_points": 0, "referee_reward_kind": "points", "referee_points": 100,
        "min_order_amount": "0", "conversion_window_days": 30, "limit_count": "",
        "limit_period_days": 30,
    })
    assert response.status_code == 200
    assert "referrer_reward" in response.context["adminform"].form.errors
    assert not ReferralSettings.objects.exists()


def test_another_merchants_rows_are_not_found(owner_client, rows, foreign):
    referral, their_code = foreign["referral"], foreign["code"]
    for target in (url("referral_change", referral.pk), url("referral_approve", referral.pk),
                   url("referral_reject", referral.pk),
                   url("referralcode_change", their_code.pk),
                   url("referralcode_deactivate", their_code.pk),
                   url("referralcode_regenerate", their_code.pk),
                   url("referralsettings_change", foreign["settings"].pk)):
        assert owner_client.get(target).status_code == 404, target
        owner_client.post(target, {"reason": "x"})
    referral.refresh_from_db()
    their_code.refresh_from_db()
    assert (referral.status, their_code.is_active) == ("pending", True)
    assert ReferralSettings.objects.get(pk=foreign["settings"].pk).referrer_points == 7
    listed = owner_client.get(url("referralsettings_changelist")).context["cl"].result_list
    assert foreign["settings"].pk not in [s.pk for s in listed]
    listed = owner_client.get(url("referral_changelist")).context["cl"].result_list
    assert referral.pk not in [r.pk for r in listed]
    # a bulk action naming the other merchant's referral changes nothing
    _bulk(owner_client, "reject_selected", [referral], apply="1", reason="x")
    referral.refresh_from_db()
    assert referral.status == "pending"


def test_the_funnel_counts_only_the_staff_merchants_rows(other_owner_user, client, rows,
                                                         foreign):
    client.force_login(other_owner_user)
    funnel = client.get(url("referral_changelist")).context["funnel"]
    assert (funnel["attributed"], funnel["codes"]) == (1, 1)


def test_an_owner_cannot_set_terms_for_another_merchants_program(owner_client, other_program):
    response = owner_client.post(url("referralsettings_add"), {
        "program": other_program.pk, "is_enabled": "on", "referrer_reward_kind": "points",
        "referrer_points": 1, "referee_reward_kind": "none", "referee_points": 0,
        "min_order_amount": "0", "conversion_window_days": 30, "limit_period_days": 30,
    })

    assert response.status_code == 200
    assert "program" in response.context["adminform"].form.errors
    assert not ReferralSettings.objects.exists()


@pytest.mark.parametrize("path", [
    "referral/%C2%B9/change/", "referral/%C2%B9/approve/", "referral/%D9%A1/reject/",
    "referralcode/%C2%B9/change/", "referralcode/99999999999999999999/regenerate/",
    "referralsettings/%00/change/",
])
def test_odd_ids_in_console_urls_are_not_found(owner_client, path):
    owner_client.raise_request_exception = False
    assert owner_client.get(f"/admin/referrals/{path}").status_code in (302, 404)
