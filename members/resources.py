"""CSV (and XLSX, JSON...) import and export of customers and members (SPEC 13), with
django-import-export, in the console's look (``unfold.contrib.import_export``).

Import
------
Each row is checked on its own (``import_row``) and rejected with field errors when it is
wrong; nothing is written while rows are read. The rows that passed are written together after
the last one (``after_import``), set-based, through the write paths: ``members.imports`` for
customers and enrolments, ``ledger.services.points_open_bulk`` for opening balances. The
console's first step is django-import-export's dry run: it reads every row, shows each row's
outcome (new, already imported, or its errors) and writes nothing; only a file without errors
can be confirmed, and the confirmed import reads the file again and writes. The page lists a
large file's first 500 rows (``ShortResult``), with every invalid row.

A member row's opening balance is one ``adjust`` entry with the reason "Opening balance
(import)" and the reference ``import:<external id>``, keyed ``import-opening:<external id>``
in the program (the ledger's idempotency keys): a second run of the same file imports nothing
twice. Decisions, per row:

* ``external_id`` is required (it is what makes a re-run recognise the row); a second row with
  the same one in a file is rejected.
* ``balance`` is a whole number of points, zero or more (empty: 0); a negative or fractional
  balance is rejected (a debt cannot be a lot of points).
* ``program`` is the program's name or id; it may be left out when the merchant has exactly
  one program. An unknown or deleted program is rejected. There is no ``tier`` column: tiers
  follow from points (the ledger's after-post hook lifts a member whose opening balance
  crosses a threshold), so the ladder never disagrees with the ledger.
* A member whose opening balance was imported already is skipped; the same row with another
  balance is rejected (adjust their points instead). A member enrolled before (by the API)
  without an imported opening balance gets it.
* Rows land in the importing staff user's merchant only: the merchant comes from their
  membership, never from the file.

Export
------
Members, ledger entries (``ledger.resources``) and orders (``rules.resources``) of the staff
user's merchant, as the console's list shows them (its filters and search apply); points are
integers and money is written to the currency's minor unit (``money_str``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from import_export import fields, resources
from import_export.admin import ExportMixin, ImportMixin
from import_export.results import Result, RowResult
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from ledger.models import Entry
from ledger.services import MAX_POINTS, Opening, points_open_bulk
from loyaltysite.bulk import rows_where_in
from members.imports import (
    CustomerRow,
    customers_by_external_id,
    customers_import,
    members_by_customer,
    members_import,
)

from .middleware import merchant_id_for_user
from .models import Customer, Member, Program

# A strict subset of what ``validate_email`` accepts, checked first: it is much quicker.
SIMPLE_EMAIL = re.compile(
    r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}$"
)
OPENING_REASON = "Opening balance (import)"
OPENING_KEY = "import-opening:"
OPENING_REFERENCE = "import:"


class _NoLoader:
    """Rows are matched in bulk (``before_import``), not by one query per row."""

    def __init__(self, resource: Any, dataset: Any = None) -> None:
        pass


def _text(row: dict, name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def _customer_fields(row: dict, errors: dict[str, list[str]]) -> CustomerRow:
    external_id = _text(row, "external_id")
    if not external_id:
        errors.setdefault("external_id", []).append("external_id is required.")
    elif len(external_id) > 128:
        errors.setdefault("external_id", []).append("At most 128 characters.")
    email = _text(row, "email")
    if email and not (len(email) <= 254 and SIMPLE_EMAIL.match(email)):
        try:  # the common shapes pass the quick check; the others get Django's own
            validate_email(email)
        except ValidationError:
            errors.setdefault("email", []).append(f"'{email}' is not an email address.")
    name = _text(row, "name")
    if len(name) > 200:
        errors.setdefault("name", []).append("At most 200 characters.")
    birthday = None
    raw = row.get("birthday")
    if isinstance(raw, date):
        birthday = raw
    elif _text(row, "birthday"):
        try:
            birthday = date.fromisoformat(_text(row, "birthday")[:10])
        except ValueError:
            errors.setdefault("birthday", []).append("A date as YYYY-MM-DD.")
    return CustomerRow(external_id=external_id, email=email, name=name, birthday=birthday)


class ShortResult(Result):
    """An import's result that lists its first ``SHOWN`` rows (a 100,000-row file must not
    become a 100,000-row page); the totals and every invalid row are all kept."""

    SHOWN = 500

    def append_row_result(self, row_result: RowResult) -> None:
        if len(self.rows) < self.SHOWN:
            super().append_row_result(row_result)


class BulkImportResource(resources.Resource):
    """Rows checked one by one, written together at the end (see the module's docstring)."""

    columns: tuple[str, ...] = ()

    class Meta:
        instance_loader_class = _NoLoader
        use_bulk = True  # no savepoint per row: nothing is written per row
        skip_diff = True
        report_skipped = True

    def __init__(self, *, merchant_id: int | None = None, actor: str = "import",
                 **kwargs: Any) -> None:
        super().__init__()
        self.merchant_id = merchant_id
        self.actor = actor
        self.accepted: list[Any] = []
        self.seen: set[str] = set()
        self.dry_run = True

    @classmethod
    def get_display_name(cls) -> str:
        return getattr(cls._meta, "name", None) or cls.__name__

    def get_result_class(self) -> type[Result]:
        return ShortResult

    def get_diff_headers(self) -> list[str]:
        return list(self.columns)

    def import_data(self, dataset: Any, dry_run: bool = False, **kwargs: Any):
        if self.merchant_id is None:
            raise ValidationError("Imports need the merchant of a staff user.")
        self.dry_run = dry_run
        self.accepted, self.seen = [], set()
        return super().import_data(dataset, dry_run=dry_run, **kwargs)

    def import_row(self, row: OrderedDict, instance_loader: Any, **kwargs: Any) -> RowResult:
        result = self.get_row_result_class()()
        result.diff = [_text(row, name) for name in self.columns]
        errors: dict[str, list[str]] = {}
        checked = self.check_row(row, errors)
        if not errors and checked is not None:
            key = self.row_key(checked)
            if key in self.seen:
                errors["external_id"] = ["This external_id is on an earlier row of the file."]
            self.seen.add(key)
        if errors:
            result.import_type = RowResult.IMPORT_TYPE_INVALID
            result.validation_error = ValidationError(errors)
            return result
        result.import_type, result.object_repr = self.classify(checked)
        if result.import_type != RowResult.IMPORT_TYPE_SKIP:
            self.accepted.append(checked)
        return result

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        if self.dry_run or result.has_errors() or not self.accepted:
            return
        self.write(self.accepted)

    # What each import defines.
    def check_row(self, row: dict, errors: dict[str, list[str]]) -> Any:
        raise NotImplementedError

    def row_key(self, checked: Any) -> str:
        raise NotImplementedError

    def classify(self, checked: Any) -> tuple[str, str]:
        raise NotImplementedError

    def write(self, accepted: list[Any]) -> None:
        raise NotImplementedError


class CustomerImportResource(BulkImportResource):
    """Customers: ``external_id, email, name, birthday``; known ones get their blank fields
    filled (as the API's look-up does), nothing is overwritten."""

    columns = ("external_id", "email", "name", "birthday")
    external_id = fields.Field(attribute="external_id", column_name="external_id")
    email = fields.Field(attribute="email", column_name="email")
    name = fields.Field(attribute="name", column_name="name")
    birthday = fields.Field(attribute="birthday", column_name="birthday")

    class Meta(BulkImportResource.Meta):
        name = "Customers"

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        ids = [_text(dict(zip(dataset.headers, r, strict=False)), "external_id") for r in dataset]
        self.known = customers_by_external_id(merchant_id=self.merchant_id, external_ids=ids)

    def check_row(self, row: dict, errors: dict[str, list[str]]) -> CustomerRow:
        return _customer_fields(row, errors)

    def row_key(self, checked: CustomerRow) -> str:
        return checked.external_id

    def classify(self, checked: CustomerRow) -> tuple[str, str]:
        if checked.external_id in self.known:
            return RowResult.IMPORT_TYPE_UPDATE, checked.external_id
        return RowResult.IMPORT_TYPE_NEW, checked.external_id

    def write(self, accepted: list[CustomerRow]) -> None:
        customers_import(merchant_id=self.merchant_id, rows=accepted)


class MemberImportResource(CustomerImportResource):
    """Members with opening balances: the customer's columns, ``program`` and ``balance``."""

    columns = ("external_id", "email", "name", "birthday", "program", "balance")
    program = fields.Field(attribute="program", column_name="program")
    balance = fields.Field(attribute="balance", column_name="balance")

    class Meta(CustomerImportResource.Meta):
        name = "Members with opening balances"

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        programs = list(Program._base_manager.filter(
            merchant_id=self.merchant_id, deleted_at__isnull=True
        ))
        self.programs = {p.name.casefold(): p for p in programs}
        self.programs.update({str(p.pk): p for p in programs})
        self.only_program = programs[0] if len(programs) == 1 else None
        rows = [dict(zip(dataset.headers, r, strict=False)) for r in dataset]
        customers = customers_by_external_id(
            merchant_id=self.merchant_id, external_ids=[_text(r, "external_id") for r in rows]
        )
        # (program id, external id) -> (member id, imported opening balance or None, status)
        self.members: dict[tuple[int, str], tuple[int, int | None, str]] = {}
        by_customer = {cid: ext for ext, cid in customers.items()}
        for program in programs:
            members = members_by_customer(program=program, customer_ids=customers.values())
            if not members:
                continue
            statuses = dict(rows_where_in(
                Member, ("id", "status"), among=("id", list(members.values())),
                extra_sql="status <> 'active'",
            ))
            opened = dict(rows_where_in(
                Entry, ("member_id", "points"), among=("member_id", list(members.values())),
                equal={"kind": Entry.Kind.ADJUST.value},
                extra_sql=f"reference LIKE '{OPENING_REFERENCE}%%'",
            ))
            for customer_id, member_id in members.items():
                self.members[(program.pk, by_customer[customer_id])] = (
                    member_id, opened.get(member_id),
                    statuses.get(member_id, Member.Status.ACTIVE),
                )

    def check_row(self, row: dict, errors: dict[str, list[str]]) -> tuple:
        customer = _customer_fields(row, errors)
        name = _text(row, "program")
        program = self.programs.get(name.casefold()) if name else self.only_program
        if program is None:
            errors["program"] = [
                f"No program '{name}'." if name else
                "program is required (the merchant has several programs)."
            ]
        raw = _text(row, "balance") or "0"
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = None
        whole = number is not None and number.is_finite() and number == number.to_integral_value()
        balance = int(number) if whole else None
        if balance is None:
            errors["balance"] = [f"'{raw}' is not a whole number of points."]
        elif balance < 0:
            errors["balance"] = ["An opening balance cannot be negative."]
        elif balance > MAX_POINTS:
            errors["balance"] = [f"At most {MAX_POINTS} points."]
        if program is not None and balance is not None and not errors:
            member_id, opened, status = self.members.get(
                (program.pk, customer.external_id), (None, None, None)
            )
            if opened is not None and opened != balance:
                errors["balance"] = [
                    f"An opening balance of {opened} was imported for this member already; "
                    "adjust their points instead."
                ]
            elif opened is None and balance and status not in (None, Member.Status.ACTIVE):
                errors["balance"] = [
                    f"The member is {status}: reactivate them before importing points."
                ]
        return customer, program, balance

    def row_key(self, checked: tuple) -> str:
        customer, program, _ = checked
        return f"{program.pk}:{customer.external_id}"

    def classify(self, checked: tuple) -> tuple[str, str]:
        customer, program, balance = checked
        member_id, opened, _status = self.members.get(
            (program.pk, customer.external_id), (None, None, None)
        )
        label = f"{customer.external_id} in {program}"
        if member_id is None:
            return RowResult.IMPORT_TYPE_NEW, label
        if opened is not None or balance == 0:
            return RowResult.IMPORT_TYPE_SKIP, label
        return RowResult.IMPORT_TYPE_UPDATE, label

    def write(self, accepted: list[tuple]) -> None:
        by_program: dict[int, list[tuple]] = {}
        for checked in accepted:
            by_program.setdefault(checked[1].pk, []).append(checked)
        for rows in by_program.values():
            program = rows[0][1]
            member_ids = members_import(program=program, rows=[c for c, _, _ in rows])
            points_open_bulk(
                program=program, actor=self.actor, reason=OPENING_REASON,
                openings=[
                    Opening(member_id=member_ids[c.external_id], points=balance,
                            key=f"{OPENING_KEY}{c.external_id}",
                            reference=f"{OPENING_REFERENCE}{c.external_id}")
                    for c, _, balance in rows if balance > 0
                ],
            )


class ConsoleExportResource(resources.ModelResource):
    """An export of a console list; ``related`` are the relations its columns read."""

    related: tuple[str, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()  # the admin's kwargs (merchant, actor) are for imports

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related(*self.related) if self.related else queryset


class MemberExportResource(ConsoleExportResource):
    """Members as the console lists them: one row each, points as integers."""

    related = ("customer", "program", "tier")

    card_id = fields.Field(attribute="card_id_display", column_name="card_id")
    external_id = fields.Field(attribute="customer__external_id", column_name="external_id")
    email = fields.Field(attribute="customer__email", column_name="email")
    name = fields.Field(attribute="customer__name", column_name="name")
    program = fields.Field(attribute="program__name", column_name="program")
    tier = fields.Field(attribute="tier__name", column_name="tier")

    class Meta:
        model = Member
        name = "Members"
        fields = (
            "card_id", "external_id", "email", "name", "program", "status", "enrolled_at",
            "balance", "pending_points", "reserved_points", "lifetime_points", "tier",
            "streak", "last_activity_at",
        )
        export_order = fields


class CustomerExportResource(ConsoleExportResource):
    class Meta:
        model = Customer
        name = "Customers"
        fields = ("external_id", "email", "name", "birthday", "created_at")
        export_order = fields


class ConsoleExportMixin(ExportMixin):
    """Export from a console list (``MerchantScopedAdmin``): the rows the list shows, so only
    the staff user's merchant's, in the console's look. ``export_resource`` names the
    resource."""

    export_form_class = ExportForm
    export_resource: type[resources.Resource]
    skip_admin_log = True

    def get_export_resource_classes(self, request):
        return [self.export_resource]

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)


class ConsoleImportExportMixin(ConsoleExportMixin, ImportMixin):
    """Import as well: ``import_resource`` writes into the importing staff user's merchant
    (never one named by the file); the platform operator, who has none, cannot import.
    Importing needs the add permission of the list's model (Owners)."""

    import_form_class = ImportForm
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"
    import_resource: type[BulkImportResource]

    def get_import_resource_classes(self, request):
        return [self.import_resource]

    def has_import_permission(self, request) -> bool:
        return (
            merchant_id_for_user(request.user) is not None
            and not request.user.is_superuser
            and request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")
        )

    def get_import_resource_kwargs(self, request, **kwargs):
        return {"merchant_id": merchant_id_for_user(request.user),
                "actor": f"staff:{request.user.pk}"}
