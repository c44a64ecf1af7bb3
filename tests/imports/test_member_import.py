"""Importing members with opening balances through the console (SPEC 13, issue 12 item 2)."""

from __future__ import annotations

import pytest

from events.models import OutboxEvent
from ledger.models import Entry, IdempotencyKey, Lot
from ledger.selectors import member_ledger_discrepancies
from members.models import Customer, Member
from members.resources import OPENING_REASON
from members.services import member_enrol_customer, member_set_status

from .conftest import confirm, dry_run, import_members

pytestmark = pytest.mark.django_db


def _imported(program):
    return {m.customer.external_id: m for m in Member.objects.filter(program=program)
            .select_related("customer")}


def test_import_creates_customers_members_and_one_entry_each(owner_client, program, rows,
                                                            clock, owner_user):
    response = import_members(owner_client, rows)

    assert response.status_code == 302
    members = _imported(program)
    assert set(members) == {"C-1", "C-2", "C-3"}
    assert members["C-1"].balance == 120
    assert members["C-1"].lifetime_points == 120
    assert members["C-2"].balance == 0
    assert members["C-3"].balance == 75
    assert Customer.objects.get(external_id="C-2").birthday.isoformat() == "1990-04-01"
    entries = Entry.objects.filter(program=program).order_by("member_id")
    assert [(e.member.customer.external_id, e.kind, e.points, e.balance_after) for e in entries] \
        == [("C-1", "adjust", 120, 120), ("C-3", "adjust", 75, 75)]
    assert {e.reason for e in entries} == {OPENING_REASON}
    assert {e.actor for e in entries} == {f"staff:{owner_user.pk}"}
    assert Lot.objects.filter(member__program=program).count() == 2
    for member in members.values():
        assert not member_ledger_discrepancies(member_id=member.pk)


def test_imported_members_are_enrolled_and_credited_in_the_outbox(owner_client, program, rows,
                                                                  clock):
    import_members(owner_client, rows)

    types = list(OutboxEvent.objects.filter(program=program).values_list("type", flat=True))
    assert types.count("member.enrolled") == 3
    assert types.count("points.adjusted") == 2
    adjusted = OutboxEvent.objects.get(type="points.adjusted",
                                       member=_imported(program)["C-1"])
    assert adjusted.data["entry"]["points"] == 120
    assert adjusted.data["member"]["balance"] == 120


def test_running_the_same_import_again_imports_nothing_twice(owner_client, program, rows, clock):
    import_members(owner_client, rows)
    again = dry_run(owner_client, rows)

    assert [r.import_type for r in again.context["result"]] == ["skip", "skip", "skip"]
    confirm(owner_client, again)

    assert Member.objects.filter(program=program).count() == 3
    assert Customer.objects.filter(merchant=program.merchant).count() == 3
    assert Entry.objects.filter(program=program).count() == 2
    assert _imported(program)["C-1"].balance == 120


def test_each_opening_balance_holds_its_natural_idempotency_key(
    owner_client, program, rows, clock
):
    import_members(owner_client, rows)
    keys = set(IdempotencyKey.objects.filter(program=program).values_list("key", flat=True))

    assert keys == {f"{program.pk}:import-opening:C-1", f"{program.pk}:import-opening:C-3"}


def test_the_dry_run_writes_nothing_and_shows_each_rows_outcome(owner_client, program, rows):
    response = dry_run(owner_client, rows)

    assert response.status_code == 200
    assert [r.import_type for r in response.context["result"]] == ["new", "new", "new"]
    assert response.context["confirm_form"] is not None
    assert not Member.objects.exists()
    assert not Customer.objects.exists()
    assert not Entry.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_the_dry_run_reports_bad_rows_with_their_errors_and_offers_no_confirm(
    owner_client, program
):
    bad = [
        {"external_id": "OK-1", "balance": "10"},
        {"external_id": "NEG", "balance": "-5"},
        {"external_id": "FRAC", "balance": "2.5"},
        {"external_id": "WORD", "balance": "lots"},
        {"external_id": "", "balance": "3"},
        {"external_id": "MAIL", "email": "not-an-email"},
        {"external_id": "DAY", "birthday": "31/12/1990"},
        {"external_id": "PROG", "program": "No Such Program"},
        {"external_id": "OK-1", "balance": "10"},
    ]

    response = dry_run(owner_client, bad)

    result = response.context["result"]
    errors = {row.number: row.error_dict for row in result.invalid_rows}
    assert set(errors) == {2, 3, 4, 5, 6, 7, 8, 9}
    assert errors[2] == {"balance": ["An opening balance cannot be negative."]}
    assert "balance" in errors[3]
    assert "balance" in errors[4]
    assert "external_id" in errors[5]
    assert "email" in errors[6]
    assert "birthday" in errors[7]
    assert errors[8] == {"program": ["No program 'No Such Program'."]}
    assert "earlier row" in errors[9]["external_id"][0]
    assert response.context.get("confirm_form") is None
    assert "cannot be negative" in response.content.decode()
    assert not Member.objects.exists()


def test_rows_name_their_program_when_the_merchant_has_several(owner_client, program, clock):
    from members.services import program_create

    second = program_create(merchant=program.merchant, name="Second", currency="EUR")

    response = dry_run(owner_client, [{"external_id": "X", "balance": "5"}])
    assert "program" in response.context["result"].invalid_rows[0].error_dict

    import_members(owner_client, [
        {"external_id": "X", "program": "Second", "balance": "5"},
        {"external_id": "X", "program": str(program.pk), "balance": "7"},
    ])
    assert Member.objects.get(program=second).balance == 5
    assert Member.objects.get(program=program).balance == 7
    assert Customer.objects.filter(external_id="X").count() == 1


def test_reimporting_a_member_with_another_balance_is_rejected(owner_client, program, rows,
                                                              clock):
    import_members(owner_client, rows)

    response = dry_run(owner_client, [{"external_id": "C-1", "balance": "999"}])

    errors = response.context["result"].invalid_rows[0].error_dict
    assert "adjust their points instead" in errors["balance"][0]
    assert _imported(program)["C-1"].balance == 120


def test_a_member_enrolled_before_gets_the_opening_balance_once(owner_client, program, clock):
    existing = member_enrol_customer(program=program, external_id="API-1", email="a@x.test")

    response = dry_run(owner_client, [{"external_id": "API-1", "balance": "40"}])
    assert [r.import_type for r in response.context["result"]] == ["update"]
    confirm(owner_client, response)
    import_members(owner_client, [{"external_id": "API-1", "balance": "40"}])

    existing.refresh_from_db()
    assert existing.balance == 40
    assert Member.objects.filter(program=program).count() == 1
    assert Entry.objects.filter(member=existing).count() == 1


def test_a_suspended_member_gets_no_opening_balance(owner_client, program, clock):
    existing = member_enrol_customer(program=program, external_id="S-1")
    member_set_status(member=existing, status=Member.Status.SUSPENDED)

    response = dry_run(owner_client, [{"external_id": "S-1", "balance": "40"}])

    assert "suspended" in response.context["result"].invalid_rows[0].error_dict["balance"][0]


def test_rows_land_in_the_importing_users_merchant_only(
    client, other_owner_user, program, other_program, clock
):
    client.force_login(other_owner_user)

    import_members(client, [{"external_id": "C-1", "balance": "10"}])
    # The other merchant's program name is unknown here, whatever the file says.
    response = dry_run(client, [{"external_id": "C-9", "program": program.name}])

    assert not Member.objects.filter(program=program).exists()
    member = Member.objects.get(program=other_program)
    assert member.merchant_id == other_program.merchant_id
    assert member.customer.merchant_id == other_program.merchant_id
    assert response.context["result"].invalid_rows[0].error_dict["program"]


def test_the_member_list_offers_import_and_export_to_an_owner(owner_client, program):
    page = owner_client.get("/admin/members/member/").content.decode()

    assert "/admin/members/member/import/" in page
    assert "/admin/members/member/export/" in page


def test_only_a_merchants_owner_may_import_balances(manager_client, program):
    page = manager_client.get("/admin/members/member/")

    assert manager_client.get("/admin/members/member/import/").status_code == 403
    assert "/admin/members/member/import/" not in page.content.decode()


def test_the_operator_cannot_import_without_a_merchant(client, program, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="op", is_staff=True, is_superuser=True))

    assert client.get("/admin/members/member/import/").status_code == 403


def test_the_import_page_shows_the_expected_columns_in_the_console(owner_client, program):
    page = owner_client.get("/admin/members/member/import/").content.decode()

    for column in ("external_id", "program", "balance"):
        assert column in page


def test_a_large_dry_run_lists_its_first_rows_and_counts_them_all(owner_client, program):
    from members.resources import ShortResult

    rows = [{"external_id": f"L-{i}", "balance": "1"} for i in range(ShortResult.SHOWN + 20)]
    rows.append({"external_id": "BAD", "balance": "-1"})

    result = dry_run(owner_client, rows).context["result"]

    assert len(result.rows) == ShortResult.SHOWN
    assert result.totals["new"] == ShortResult.SHOWN + 20
    assert [r.number for r in result.invalid_rows] == [len(rows)]
