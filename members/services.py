"""Write paths for tenancy, programs, customers and members."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from events.outbox import emit
from loyaltysite.clock import Clock, system_clock
from loyaltysite.errors import (
    InvalidTransition,
    MemberAlreadyEnrolled,
    NameTaken,
    ValidationFailed,
)

from . import hooks
from .models import Customer, Member, Merchant, MerchantAPIKey, Program, StaffMembership

# What each role may do, as Django permissions (app_label.codename).
ROLE_PERMISSIONS: dict[str, list[str]] = {
    StaffMembership.Role.OWNER: [
        "members.view_merchant",
        "members.add_program", "members.change_program", "members.delete_program",
        "members.view_program",
        "members.add_customer", "members.change_customer", "members.view_customer",
        "members.add_member", "members.change_member", "members.view_member",
        "members.add_merchantapikey", "members.change_merchantapikey",
        "members.view_merchantapikey", "members.delete_merchantapikey",
        "members.view_staffmembership",
        "ledger.view_entry", "ledger.view_hold", "ledger.adjust_points",
        "rules.add_earningrule", "rules.change_earningrule", "rules.delete_earningrule",
        "rules.view_earningrule",
        "tiers.add_tier", "tiers.change_tier", "tiers.delete_tier", "tiers.view_tier",
    ],
    StaffMembership.Role.MANAGER: [
        "members.view_merchant",
        "members.view_program",
        "members.add_customer", "members.change_customer", "members.view_customer",
        "members.change_member", "members.view_member",
        "ledger.view_entry", "ledger.view_hold", "ledger.adjust_points",
        "rules.view_earningrule",
        "tiers.view_tier",
    ],
}
# Other apps add their permissions here when they load (see their apps.py ready()).
EXTRA_ROLE_PERMISSIONS: dict[str, list[str]] = {
    StaffMembership.Role.OWNER: [],
    StaffMembership.Role.MANAGER: [],
}


def role_group_name(role: str) -> str:
    return StaffMembership.Role(role).label


def role_groups_sync() -> None:
    """Create the Owner and Manager groups with exactly their permissions (idempotent)."""
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role_group_name(role))
        wanted = set(codes) | set(EXTRA_ROLE_PERMISSIONS.get(role, []))
        perms = []
        for code in sorted(wanted):
            app_label, codename = code.split(".")
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)


@transaction.atomic
def staff_attach(*, user: Any, merchant: Merchant, role: str) -> StaffMembership:
    """Make ``user`` staff of ``merchant`` with ``role`` (replacing any earlier role)."""
    role = StaffMembership.Role(role)
    membership, _ = StaffMembership.objects.with_scopes_disabled().update_or_create(
        user=user, defaults={"merchant": merchant, "role": role}
    )
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    role_groups_sync()
    user.groups.remove(*Group.objects.filter(name__in=[r.label for r in StaffMembership.Role]))
    user.groups.add(Group.objects.get(name=role_group_name(role)))
    return membership


@transaction.atomic
def merchant_create(
    *, slug: str, name: str, owner_email: str | None = None, owner_password: str | None = None
) -> tuple[Merchant, Any]:
    """Create a merchant (and its Owner, when an email is given). Idempotent on ``slug``."""
    slug = slugify(slug)
    if not slug:
        raise ValidationFailed("slug must contain letters or digits.", field="slug")
    merchant, created = Merchant.objects.get_or_create(slug=slug, defaults={"name": name})
    if not created and name and merchant.name != name:
        merchant.name = name
        merchant.save(update_fields=["name"])
    owner = None
    if owner_email:
        user_model = get_user_model()
        owner, user_created = user_model.objects.get_or_create(
            username=owner_email, defaults={"email": owner_email}
        )
        if user_created or owner_password:
            if owner_password:
                owner.set_password(owner_password)
            else:
                owner.set_unusable_password()
            owner.save()
        staff_attach(user=owner, merchant=merchant, role=StaffMembership.Role.OWNER)
    return merchant, owner


def api_key_create(
    *, merchant: Merchant, name: str, read_only: bool = False,
    rate_limit_per_minute: int | None = None,
) -> tuple[MerchantAPIKey, str]:
    """Create a key; the raw key is returned once and only its hash is stored."""
    return MerchantAPIKey.objects.with_scopes_disabled().create_key(
        merchant=merchant, name=name, read_only=read_only,
        rate_limit_per_minute=rate_limit_per_minute,
    )


PROGRAM_FIELDS = {
    "name", "point_name", "point_name_plural", "point_symbol", "currency", "earn_rate",
    "rounding", "point_value", "expiry_policy", "expiry_months", "expiry_warning_days",
    "pending_days", "min_redeem_points", "max_redeem_percent", "reservation_ttl_minutes",
    "auto_enrol", "is_active", "time_zone", "language",
}


def _program_save(program: Program) -> Program:
    try:
        with transaction.atomic():
            program.full_clean(exclude=["merchant"], validate_unique=False)
            program.save()
    except DjangoValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ValidationFailed(
            messages[0], field=None if field == NON_FIELD_ERRORS else field
        ) from None
    except IntegrityError:
        raise NameTaken("A program with this name already exists.", field="name") from None
    return program


def program_create(*, merchant: Merchant, **fields: Any) -> Program:
    unknown = set(fields) - PROGRAM_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    if Program.objects.with_scopes_disabled().filter(
        merchant=merchant, name=fields.get("name"), deleted_at__isnull=True
    ).exists():
        raise NameTaken("A program with this name already exists.", field="name")
    # Unless told, dates as the currency's customers write them: the US month-first with a
    # 12-hour clock for dollars, day-first with a 24-hour clock (English, UK) elsewhere.
    fields.setdefault("language", "en" if fields.get("currency") == "USD" else "en-gb")
    return _program_save(Program(merchant=merchant, **fields))


def program_update(*, program: Program, **fields: Any) -> Program:
    unknown = set(fields) - PROGRAM_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    clash = Program.objects.with_scopes_disabled().filter(
        merchant_id=program.merchant_id, name=fields.get("name"), deleted_at__isnull=True
    ).exclude(pk=program.pk)
    if "name" in fields and clash.exists():
        raise NameTaken("A program with this name already exists.", field="name")
    for name, value in fields.items():
        setattr(program, name, value)
    return _program_save(program)


def program_delete(*, program: Program, clock: Clock = system_clock) -> Program:
    """Soft delete: the program disappears from lists and answers 404; its ledger stays."""
    program.deleted_at = clock.now()
    program.is_active = False
    program.save(update_fields=["deleted_at", "is_active"])
    return program


def customer_get_or_create(
    *,
    merchant: Merchant | int,
    external_id: str = "",
    email: str = "",
    name: str = "",
    birthday: date | None = None,
    user: Any = None,
) -> Customer:
    """Find the merchant's customer by ``external_id`` (or create one); fills blank fields."""
    merchant_id = merchant if isinstance(merchant, int) else merchant.pk
    manager = Customer.objects.with_scopes_disabled()
    if external_id:
        try:
            with transaction.atomic():
                customer, created = manager.get_or_create(
                    merchant_id=merchant_id, external_id=external_id,
                    defaults={"email": email, "name": name, "birthday": birthday, "user": user},
                )
        except IntegrityError:  # a concurrent request created it first
            customer, created = manager.get(merchant_id=merchant_id, external_id=external_id), False
        if not created:
            changed = []
            for field, value in (("email", email), ("name", name), ("birthday", birthday),
                                 ("user", user)):
                if value and not getattr(customer, field):
                    setattr(customer, field, value)
                    changed.append(field)
            if changed:
                customer.save(update_fields=changed)
        return customer
    return manager.create(
        merchant_id=merchant_id, email=email, name=name, birthday=birthday, user=user
    )


def member_enrol(
    *,
    program: Program,
    customer: Customer,
    context: Mapping[str, Any] | None = None,
    clock: Clock = system_clock,
) -> Member:
    """Enrol a customer in a program; a second enrolment is ``MEMBER_ALREADY_ENROLLED``.

    ``context`` goes to the enrolment hooks (``members.hooks``) with the new member.
    """
    if customer.merchant_id != program.merchant_id:
        raise ValidationFailed("Customer belongs to another merchant.", field="customer")
    try:
        with transaction.atomic():
            member = Member.objects.with_scopes_disabled().create(
                merchant_id=program.merchant_id,
                program=program,
                customer=customer,
                enrolled_at=clock.now(),
            )
            emit("member.enrolled", merchant_id=member.merchant_id, program_id=program.pk,
                 member_id=member.pk, at=member.enrolled_at, data={"customer": {
                     "external_id": customer.external_id, "email": customer.email,
                     "name": customer.name}})
            hooks.member_enrolled(member, context)
            return member
    except IntegrityError:
        existing = Member.objects.with_scopes_disabled().filter(
            program=program, customer=customer
        ).first()
        if existing is None:
            raise
        raise MemberAlreadyEnrolled(
            f"Customer is already enrolled as member {existing.pk}.", field="external_id",
            member_id=existing.pk,
        ) from None


def member_enrol_customer(
    *,
    program: Program,
    external_id: str = "",
    email: str = "",
    name: str = "",
    birthday: date | None = None,
    context: Mapping[str, Any] | None = None,
    clock: Clock = system_clock,
) -> Member:
    with transaction.atomic():
        customer = customer_get_or_create(
            merchant=program.merchant_id, external_id=external_id, email=email, name=name,
            birthday=birthday,
        )
        return member_enrol(program=program, customer=customer, context=context, clock=clock)


def member_get_or_enrol(
    *, program: Program, external_id: str, clock: Clock = system_clock
) -> tuple[Member, bool]:
    """The member for ``external_id`` in ``program``, enrolling them if needed."""
    member = Member.objects.with_scopes_disabled().filter(
        program=program, customer__merchant_id=program.merchant_id,
        customer__external_id=external_id,
    ).first()
    if member is not None:
        return member, False
    try:
        member = member_enrol_customer(program=program, external_id=external_id, clock=clock)
    except MemberAlreadyEnrolled:
        return Member.objects.with_scopes_disabled().get(
            program=program, customer__external_id=external_id
        ), False
    member_welcome(member=member, clock=clock)
    return member, True


def member_welcome(*, member: Member, clock: Clock = system_clock) -> int:
    """Award a new member the program's welcome points (the welcome hooks: the rules app's
    welcome rules); returns the points."""
    return hooks.member_welcomed(member, clock)


ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Member.Status.ACTIVE: {Member.Status.SUSPENDED, Member.Status.INACTIVE},
    Member.Status.SUSPENDED: {Member.Status.ACTIVE, Member.Status.INACTIVE},
    Member.Status.INACTIVE: {Member.Status.ACTIVE},
}


@transaction.atomic
def member_set_status(
    *, member: Member, status: str, clock: Clock = system_clock
) -> Member:
    """Move a member along the allowed transitions; asking for the current status is a no-op."""
    from ledger.locking import lock_member

    locked = lock_member(member.pk)
    if locked.status == status:
        return locked
    if status not in ALLOWED_TRANSITIONS[locked.status]:
        raise InvalidTransition(
            f"A {locked.status} member cannot become {status}.", field="status"
        )
    previous = locked.status
    locked.status = status
    locked.status_changed_at = clock.now()
    locked.save(update_fields=["status", "status_changed_at"])
    emit("member.status_changed", merchant_id=locked.merchant_id, program_id=locked.program_id,
         member_id=locked.pk, at=locked.status_changed_at,
         data={"previous_status": previous})
    return locked


def member_sign_up(
    *,
    program: Program,
    user: Any,
    name: str = "",
    context: Mapping[str, Any] | None = None,
    clock: Clock = system_clock,
) -> Member:
    """Enrol a portal user in ``program`` (the portal's sign-up), with the welcome award.

    Their customer record of the program's merchant is the one linked to the account, or a new
    one. An existing customer with the same email is never linked by this: an address typed in
    a sign-up form proves nothing, and linking would hand that customer's points to whoever
    typed it. ``context`` goes to the enrolment hooks (e.g. a referral code).
    """
    with transaction.atomic():
        customer = (
            Customer.objects.with_scopes_disabled()
            .filter(merchant_id=program.merchant_id, user=user)
            .order_by("id")
            .first()
        )
        if customer is None:
            customer = customer_get_or_create(
                merchant=program.merchant_id, email=user.email,
                name=name or user.get_full_name(), user=user,
            )
        member = member_enrol(program=program, customer=customer, context=context, clock=clock)
        member_welcome(member=member, clock=clock)
    return member
