"""The merchant console: pages render per role, scoping, and the actions go through services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_scopes import ScopeError

from ledger.models import Entry
from members.models import Customer, Member, MerchantAPIKey, Program

from ..factories import MemberFactory, ProgramFactory, UserFactory
from .conftest import login

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def program_form(program: Program, **changes) -> dict:
    data = {
        "name": program.name, "currency": program.currency, "point_name": program.point_name,
        "point_name_plural": program.point_name_plural, "point_symbol": program.point_symbol,
        "earn_rate": program.earn_rate, "rounding": program.rounding,
        "point_value": program.point_value, "expiry_policy": program.expiry_policy,
        "expiry_months": program.expiry_months,
        "expiry_warning_days": program.expiry_warning_days,
        "pending_days": program.pending_days, "min_redeem_points": program.min_redeem_points,
        "max_redeem_percent": program.max_redeem_percent,
        "reservation_ttl_minutes": program.reservation_ttl_minutes,
        "time_zone": program.time_zone, "language": program.language,
        "is_active": "on", "auto_enrol": "on",
    }
    data.update(changes)
    return data


@pytest.fixture
def console_rows(funded_member, tier, api_key):
    """One row of every kind the console shows, all of merchant ``acme``."""
    return {
        "member": funded_member,
        "program": funded_member.program,
        "customer": funded_member.customer,
        "tier": tier,
        "api_key": api_key,
        "entry": Entry.objects.get(member=funded_member, kind="adjust"),
        "hold": funded_member.holds.first(),
    }


CHANGELISTS = [
    "members_member_changelist", "members_customer_changelist", "members_program_changelist",
    "members_merchantapikey_changelist", "members_staffmembership_changelist",
    "ledger_entry_changelist", "ledger_hold_changelist", "tiers_tier_changelist",
]
MANAGER_CHANGELISTS = [
    "members_member_changelist", "members_customer_changelist", "members_program_changelist",
    "ledger_entry_changelist", "ledger_hold_changelist", "tiers_tier_changelist",
]
ADD_PAGES = [
    "members_program_add", "members_customer_add", "members_member_add",
    "members_merchantapikey_add", "tiers_tier_add",
]
CHANGE_PAGES = [
    ("members_member_change", "member"), ("members_customer_change", "customer"),
    ("members_program_change", "program"), ("members_merchantapikey_change", "api_key"),
    ("ledger_entry_change", "entry"), ("ledger_hold_change", "hold"),
    ("tiers_tier_change", "tier"),
]


# -- pages render ---------------------------------------------------------------------------


def test_the_dashboard_shows_the_merchants_figures(owner_client, console_rows, other_member):
    response = owner_client.get(url("index"))

    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures["total"] == 1  # the other merchant's member is not counted
    assert figures["outstanding"] == 100
    assert figures["reserved"] == 10
    assert console_rows["member"].card_id_display in response.content.decode()


@pytest.mark.parametrize("name", CHANGELISTS)
def test_every_list_renders_for_an_owner(owner_client, console_rows, name):
    assert owner_client.get(url(name)).status_code == 200


@pytest.mark.parametrize("name", ADD_PAGES)
def test_every_add_page_renders_for_an_owner(owner_client, console_rows, name):
    assert owner_client.get(url(name)).status_code == 200


@pytest.mark.parametrize(("name", "row"), CHANGE_PAGES)
def test_every_change_page_renders_for_an_owner(owner_client, console_rows, name, row):
    assert owner_client.get(url(name, console_rows[row].pk)).status_code == 200


@pytest.mark.parametrize("name", MANAGER_CHANGELISTS)
def test_every_list_a_manager_may_see_renders(manager_client, console_rows, name):
    assert manager_client.get(url(name)).status_code == 200


@pytest.mark.parametrize(
    ("name", "row"),
    [pair for pair in CHANGE_PAGES if pair[1] != "api_key"],
)
def test_every_page_a_manager_may_see_renders(manager_client, console_rows, name, row):
    assert manager_client.get(url(name, console_rows[row].pk)).status_code == 200


@pytest.mark.parametrize(
    "name",
    ["members_merchantapikey_changelist", "members_program_add", "tiers_tier_add",
     "members_member_add", "members_merchant_changelist"],
)
def test_a_manager_is_refused_what_only_an_owner_may_do(manager_client, console_rows, name):
    assert manager_client.get(url(name)).status_code == 403


def test_the_operator_sees_every_merchant(operator_user, member, other_member):
    client = login(operator_user)

    response = client.get(url("members_member_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert member.card_id_display in page
    assert other_member.card_id_display in page
    for name in CHANGELISTS + ["members_merchant_changelist", "auth_user_changelist"]:
        assert client.get(url(name)).status_code == 200, name


# -- roles ----------------------------------------------------------------------------------


def test_a_manager_cannot_change_a_program(manager_client, program):
    page = manager_client.get(url("members_program_change", program.pk))
    response = manager_client.post(
        url("members_program_change", program.pk), program_form(program, name="Hijacked")
    )

    assert page.status_code == 200
    assert b'name="name"' not in page.content  # shown read-only
    assert response.status_code == 403
    program.refresh_from_db()
    assert program.name == "Acme Rewards"


def test_an_owner_edits_a_program(owner_client, program):
    response = owner_client.post(
        url("members_program_change", program.pk),
        program_form(program, name="Acme Club", pending_days="14"),
    )

    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.name, program.pending_days) == ("Acme Club", 14)


def test_an_owner_creates_a_program_for_their_merchant(owner_client, merchant):
    draft = Program(merchant=merchant, name="Second", currency="USD")

    response = owner_client.post(url("members_program_add"), program_form(draft))

    assert response.status_code == 302
    created = Program.objects.get(name="Second")
    assert created.merchant == merchant


def test_a_duplicate_program_name_is_a_form_error(owner_client, program, merchant):
    draft = Program(merchant=merchant, name=program.name, currency="EUR")

    response = owner_client.post(url("members_program_add"), program_form(draft))

    assert response.status_code == 200
    assert "A program with this name already exists." in response.content.decode()
    assert Program.objects.filter(merchant=merchant).count() == 1


def test_deleting_a_program_is_a_soft_delete(owner_client, funded_member):
    program = funded_member.program

    response = owner_client.post(url("members_program_delete", program.pk), {"post": "yes"})

    assert response.status_code == 302
    program.refresh_from_db()
    assert program.deleted_at is not None
    assert owner_client.get(url("members_program_change", program.pk)).status_code == 404


# -- tenant isolation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("members_member_change", "other_member"),
        ("members_program_change", "other_program"),
        ("members_customer_change", "other_customer"),
        ("tiers_tier_change", "other_tier"),
        ("members_member_adjust_points", "other_member"),
        ("members_member_suspend", "other_member"),
    ],
)
def test_another_merchants_rows_answer_404(owner_client, other_member, other_tier, name, row):
    rows = {
        "other_member": other_member, "other_program": other_member.program,
        "other_customer": other_member.customer, "other_tier": other_tier,
    }

    assert owner_client.get(url(name, rows[row].pk)).status_code == 404


def test_another_merchants_rows_are_absent_from_lists(owner_client, member, other_member):
    members = owner_client.get(url("members_member_changelist")).content.decode()
    programs = owner_client.get(url("members_program_changelist")).content.decode()

    assert member.card_id_display in members
    assert other_member.card_id_display not in members
    assert "Rival Rewards" not in programs


def test_another_merchants_member_cannot_be_adjusted(owner_client, other_member, clock):
    response = owner_client.post(
        url("members_member_adjust_points", other_member.pk), {"points": 5, "reason": "x"}
    )

    assert response.status_code == 404
    assert not Entry.objects.filter(member=other_member).exists()


def test_another_merchants_program_cannot_be_chosen(owner_client, customer, other_program):
    response = owner_client.post(
        url("members_member_add"), {"program": other_program.pk, "customer": customer.pk}
    )

    assert response.status_code == 200  # the form refuses the choice
    assert not Member.objects.filter(program=other_program).exists()


@pytest.mark.scoped
def test_a_scoped_query_outside_any_scope_raises(member):
    with pytest.raises(ScopeError):
        Member.objects.count()


# -- the ledger is read-only ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "operator"])
def test_ledger_entries_cannot_be_added_changed_or_deleted(
    who, owner_user, operator_user, console_rows
):
    client = login(owner_user if who == "owner" else operator_user)
    entry = console_rows["entry"]

    assert client.get(url("ledger_entry_add")).status_code == 403
    assert client.post(url("ledger_entry_add"), {"points": 5}).status_code == 403
    assert client.post(url("ledger_entry_change", entry.pk), {"points": 5}).status_code == 403
    assert client.post(url("ledger_entry_delete", entry.pk), {"post": "yes"}).status_code == 403
    assert client.post(url("ledger_hold_delete", console_rows["hold"].pk),
                       {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.points == 110
    assert Entry.objects.count() == 2


# -- members: search, enrol, adjust, status -------------------------------------------------


@pytest.mark.parametrize("how", ["card", "card_as_printed", "external_id", "email"])
def test_members_are_found_by_card_external_id_or_email(owner_client, program, how):
    wanted, _noise = MemberFactory(program=program), MemberFactory(program=program)
    term = {
        "card": wanted.card_id,
        "card_as_printed": wanted.card_id_display.lower(),
        "external_id": wanted.customer.external_id,
        "email": wanted.customer.email,
    }[how]

    response = owner_client.get(url("members_member_changelist"), {"q": term})

    assert list(response.context["cl"].result_list) == [wanted]


def test_the_member_page_shows_figures_and_recent_entries(owner_client, console_rows):
    member = console_rows["member"]

    page = owner_client.get(url("members_member_change", member.pk)).content.decode()

    assert "welcome" in page  # the adjustment's reason, from the read-only ledger inline
    assert member.card_id_display in page
    assert "Adjust points" in page
    assert 'name="balance"' not in page  # figures are read-only


def test_an_owner_enrols_a_customer(owner_client, program, customer, clock):
    response = owner_client.post(
        url("members_member_add"), {"program": program.pk, "customer": customer.pk}
    )
    again = owner_client.post(
        url("members_member_add"), {"program": program.pk, "customer": customer.pk}
    )

    assert response.status_code == 302
    assert again.status_code == 200  # already enrolled: a form error
    assert Member.objects.filter(program=program, customer=customer).count() == 1


def test_adjusting_writes_one_ledger_entry_with_the_reason(manager_client, manager_user,
                                                            funded_member):
    response = manager_client.post(
        url("members_member_adjust_points", funded_member.pk),
        {"points": "-30", "reason": "Damaged parcel goodwill reversal"},
    )

    assert response.status_code == 302
    entry = Entry.objects.filter(member=funded_member).order_by("-id").first()
    assert (entry.kind, entry.points, entry.reason) == (
        "adjust", -30, "Damaged parcel goodwill reversal"
    )
    assert entry.actor == f"staff:{manager_user.pk}"
    assert Entry.objects.filter(member=funded_member).count() == 3
    funded_member.refresh_from_db()
    assert funded_member.balance == 70
    follow = manager_client.get(response["Location"]).content.decode()
    assert "balance 70" in follow


def test_the_adjust_page_asks_for_points_and_a_reason(manager_client, funded_member):
    page = manager_client.get(url("members_member_adjust_points", funded_member.pk))

    assert page.status_code == 200
    assert b'name="points"' in page.content
    assert b'name="reason"' in page.content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"points": "0", "reason": "x"}, "Enter a non-zero number of points."),
        ({"points": "ten", "reason": "x"}, "Enter a whole number."),
        ({"points": "5", "reason": "  "}, "This field is required."),
        ({"points": str(2**31), "reason": "x"}, "less than or equal to"),
        ({"points": "-101", "reason": "too much"}, "Balance is 100, cannot remove 101."),
    ],
)
def test_bad_adjust_input_shows_an_error_and_writes_nothing(
    owner_client, funded_member, data, message
):
    before = Entry.objects.count()

    response = owner_client.post(url("members_member_adjust_points", funded_member.pk), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Entry.objects.count() == before
    funded_member.refresh_from_db()
    assert funded_member.balance == 100


def test_a_user_without_the_adjust_permission_cannot_adjust(customer_user, member):
    customer_user.is_staff = True
    customer_user.save()
    client = login(customer_user)

    response = client.post(url("members_member_adjust_points", member.pk),
                           {"points": "5", "reason": "x"})

    assert response.status_code in (403, 404)
    assert not Entry.objects.filter(member=member).exists()


def test_suspend_and_reactivate(manager_client, member, clock):
    confirm = manager_client.get(url("members_member_suspend", member.pk))
    member.refresh_from_db()
    assert confirm.status_code == 200
    assert member.status == "active"  # asking is not doing

    manager_client.post(url("members_member_suspend", member.pk))
    member.refresh_from_db()
    assert member.status == "suspended"

    manager_client.post(url("members_member_reactivate", member.pk))
    member.refresh_from_db()
    assert member.status == "active"

    manager_client.post(url("members_member_deactivate", member.pk))
    member.refresh_from_db()
    assert member.status == "inactive"


def test_adjusting_a_suspended_member_shows_the_error(owner_client, funded_member, clock):
    owner_client.post(url("members_member_suspend", funded_member.pk))

    response = owner_client.post(
        url("members_member_adjust_points", funded_member.pk), {"points": "5", "reason": "x"}
    )

    assert response.status_code == 200
    assert "is suspended" in response.content.decode()
    assert Entry.objects.filter(member=funded_member, points=5).count() == 0


# -- customers and API keys -----------------------------------------------------------------


def test_an_owner_adds_a_customer_to_their_merchant(owner_client, merchant):
    response = owner_client.post(
        url("members_customer_add"),
        {"external_id": "crm-9", "email": "nine@example.com", "name": "Nina",
         "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0"},
    )

    assert response.status_code == 302
    assert Customer.objects.get(external_id="crm-9").merchant == merchant


def test_a_duplicate_external_id_is_a_form_error(owner_client, customer):
    response = owner_client.post(
        url("members_customer_add"), {"external_id": customer.external_id, "email": ""}
    )

    assert response.status_code == 200
    assert "A customer with this external id already exists." in response.content.decode()


def test_creating_an_api_key_shows_it_once_and_stores_only_its_hash(owner_client, merchant):
    response = owner_client.post(
        url("members_merchantapikey_add"), {"name": "Till", "read_only": "on"}, follow=True
    )

    key = MerchantAPIKey.objects.get(name="Till")
    shown = [str(m) for m in response.context["messages"]]
    raw = next(m for m in shown if "shown only this once" in m).split("<code")[1]
    raw = raw.split(">", 1)[1].split("<", 1)[0]
    assert key.merchant == merchant
    assert key.read_only is True
    assert raw.startswith(key.prefix)
    assert raw not in key.hashed_key
    assert MerchantAPIKey.objects.is_valid(raw)
    again = owner_client.get(url("members_merchantapikey_change", key.pk)).content.decode()
    assert raw not in again


def test_revoking_api_keys(owner_client, api_key):
    response = owner_client.post(
        url("members_merchantapikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked is True


def test_tiers_are_edited_by_owners_for_their_programs(owner_client, program, manager_user):
    response = owner_client.post(
        url("tiers_tier_add"),
        {"program": program.pk, "name": "Silver", "rank": "1", "threshold_points": "500",
         "earn_multiplier": "1.25", "perks": ""},
    )

    assert response.status_code == 302
    tier = program.tiers.get(name="Silver")
    assert tier.merchant_id == program.merchant_id
    manager = login(manager_user)
    assert manager.post(url("tiers_tier_change", tier.pk), {"name": "X"}).status_code == 403


def test_staff_without_a_merchant_see_nothing(member):
    loose = UserFactory(username="loose@example.com", is_staff=True)
    program = ProgramFactory(merchant=member.merchant)
    loose.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_member", "view_program"])
    )
    client = login(loose)

    members = client.get(url("members_member_changelist")).content.decode()
    assert member.card_id_display not in members
    assert client.get(url("members_program_change", program.pk)).status_code == 404


# -- the platform operator ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["members_merchant_add", "members_staffmembership_add", "members_customer_add",
     "members_program_add", "members_merchantapikey_add", "tiers_tier_add"],
)
def test_every_add_page_renders_for_the_operator(operator_user, name):
    assert login(operator_user).get(url(name)).status_code == 200


def test_the_operator_picks_the_merchant_of_a_new_customer(operator_user, other_merchant):
    client = login(operator_user)

    response = client.post(url("members_customer_add"), {
        "merchant": other_merchant.pk, "external_id": "op-1", "email": "", "name": "",
    })

    assert response.status_code == 302
    assert Customer.objects.get(external_id="op-1").merchant == other_merchant


def test_the_operator_attaches_staff_through_the_service(operator_user, merchant):
    newcomer = UserFactory(username="new@acme.test")
    client = login(operator_user)

    response = client.post(url("members_staffmembership_add"), {
        "merchant": merchant.pk, "user": newcomer.pk, "role": "manager",
    })

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.is_staff
    assert newcomer.has_perm("ledger.adjust_points")
    assert not newcomer.has_perm("members.change_program")


def test_an_owner_sees_their_staff_but_cannot_change_them(owner_client, manager_user):
    page = url("members_staffmembership_change", manager_user.staff_membership.pk)

    assert owner_client.get(page).status_code == 200
    assert owner_client.post(page, {"role": "owner"}).status_code == 403


def test_no_console_action_names_a_dotted_permission():
    """Unfold checks dotted action permissions against the database when the project starts,
    which fails before the first migrate: actions name ``has_<x>_permission`` methods."""
    from django.contrib import admin

    for model_admin in admin.site._registry.values():
        actions = getattr(model_admin, "_get_base_actions_detail", None)
        if actions is None:
            continue
        for action in [*model_admin._get_base_actions_list(), *actions(),
                       *model_admin._get_base_actions_row(),
                       *model_admin._get_base_actions_submit_line()]:
            for permission in getattr(action.method, "allowed_permissions", []):
                assert "." not in permission, (type(model_admin).__name__, permission)


@pytest.mark.scoped
def test_a_console_form_can_be_declared_outside_any_scope(program):
    from members.forms import MerchantScopedForm

    class EnrolForm(MerchantScopedForm):
        class Meta:
            model = Member
            fields = ["program", "customer"]

    # declared at import time, with no scope active: the scoped choices start empty
    assert list(EnrolForm.base_fields["program"].queryset) == []
