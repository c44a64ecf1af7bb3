"""Tenancy (Merchant, staff roles), programs, customers and their enrolments (members).

Every tenant-owned row carries ``merchant`` directly, and the default manager of each is a
django-scopes ``ScopedManager``: a query made outside ``scope(merchant=...)`` raises instead
of leaking another merchant's rows. Per-tenant unique constraints include ``merchant``.
"""

from __future__ import annotations

import secrets
from datetime import tzinfo
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from loyaltysite.api.cache import invalidate
from loyaltysite.formatting import card_id_display

CARD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CARD_ID_LENGTH = 16  # 80 bits of randomness


def new_card_id() -> str:
    return "".join(secrets.choice(CARD_ALPHABET) for _ in range(CARD_ID_LENGTH))


def validate_time_zone(value: str) -> None:
    """An IANA time zone name (``Europe/Berlin``), as ``zoneinfo`` knows them."""
    if value not in available_timezones():
        raise ValidationError(f"'{value}' is not a known time zone (e.g. Europe/Berlin).")


def card_id_is_valid(value: str) -> bool:
    """Whether a normalized card id could exist (the right length and alphabet)."""
    return len(value) == CARD_ID_LENGTH and all(c in CARD_ALPHABET for c in value)


def normalize_card_id(value: str) -> str:
    """What a person typed (lower case, dashes, spaces, O for 0) to the stored form."""
    cleaned = "".join(value.split()).replace("-", "").upper()
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


class InvalidatingQuerySet(models.QuerySet):
    """Bulk updates and deletes drop the API's cached keys and programs (``save()`` and
    ``delete()`` of one row do it through signals, ``members/apps.py``)."""

    def update(self, **kwargs):
        count = super().update(**kwargs)
        invalidate()
        return count

    def delete(self):
        result = super().delete()
        invalidate()
        return result


InvalidatingManager = models.Manager.from_queryset(InvalidatingQuerySet)


def language_choices() -> list[tuple[str, str]]:
    """The languages the console and the portal are shipped in (``settings.LANGUAGES``)."""
    return list(settings.LANGUAGES)


class Merchant(models.Model):
    """The tenant."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    is_active = models.BooleanField(_("is active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = InvalidatingManager()

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StaffMembership(models.Model):
    """Attaches a staff user to one merchant with a role. Roles map to Django groups."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MANAGER = "manager", _("Manager")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_membership",
        verbose_name=_("user"),
    )
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="staff"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()} at {self.merchant})"


class Program(models.Model):
    """A points scheme. Only ``name`` and ``currency`` are required; the rest has defaults."""

    class Rounding(models.TextChoices):
        DOWN = "down", _("Round down")
        HALF_UP = "half_up", _("Round half up")
        UP = "up", _("Round up")

    class ExpiryPolicy(models.TextChoices):
        NONE = "none", _("Points never expire")
        AFTER_EARN = "after_earn", _("N months after earning")
        INACTIVITY = "inactivity", _("After N months of member inactivity")

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="programs"
    )
    name = models.CharField(_("name"), max_length=200)
    point_name = models.CharField(_("point name"), max_length=40, default="point")
    point_name_plural = models.CharField(_("point name plural"), max_length=40, default="points")
    point_symbol = models.CharField(_("point symbol"), max_length=8, default="pts")
    currency = models.CharField(
        _("currency"), max_length=3,
        validators=[RegexValidator(r"^[A-Z]{3}$", _("An ISO 4217 code, e.g. EUR."))],
    )
    earn_rate = models.DecimalField(
        _("earn rate"), max_digits=12, decimal_places=4, default=Decimal("1"),
        help_text=_("Points per currency unit spent."),
    )
    rounding = models.CharField(
        _("rounding"), max_length=8, choices=Rounding, default=Rounding.DOWN
    )
    point_value = models.DecimalField(
        _("point value"), max_digits=12, decimal_places=6, default=Decimal("0.01"),
        help_text=_("What one point is worth in the program's currency."),
    )
    expiry_policy = models.CharField(
        _("expiry policy"), max_length=16, choices=ExpiryPolicy, default=ExpiryPolicy.NONE
    )
    expiry_months = models.PositiveSmallIntegerField(
        _("expiry months"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    expiry_warning_days = models.PositiveSmallIntegerField(_("expiry warning days"), default=30)
    pending_days = models.PositiveSmallIntegerField(
        _("pending days"), default=0, validators=[MaxValueValidator(365)],
        help_text=_("Days an order's points stay pending (the return window)."),
    )
    min_redeem_points = models.PositiveIntegerField(_("min redeem points"), default=0)
    max_redeem_percent = models.PositiveSmallIntegerField(
        _("max redeem percent"), default=100, validators=[MaxValueValidator(100)]
    )
    reservation_ttl_minutes = models.PositiveIntegerField(
        _("reservation ttl minutes"), default=15,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
    )
    auto_enrol = models.BooleanField(_("auto enrol"), default=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone],
        help_text=_("Where the program's days begin and end (birthdays, streak cycles), "
                    "e.g. Europe/Berlin."),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=language_choices, default="en",
        help_text=_("The language, and the date, time and number formats, its members see in "
                    "the portal and its staff in the console (a visitor may choose another)."),
    )
    is_active = models.BooleanField(_("is active"), default=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ScopedManager(merchant="merchant", _manager_class=InvalidatingManager)

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(earn_rate__gte=0), name="program_earn_rate_gte_0"),
            models.CheckConstraint(
                condition=Q(point_value__gte=0), name="program_point_value_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(max_redeem_percent__lte=100), name="program_max_redeem_percent_lte_100"
            ),
            models.UniqueConstraint(
                fields=["merchant", "name"],
                condition=Q(deleted_at__isnull=True),
                name="program_unique_live_name_per_merchant",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def tz(self) -> tzinfo:
        """The program's time zone (day boundaries: birthdays, streak cycles)."""
        return _zone(self.time_zone)


@cache
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


class Customer(models.Model):
    """A person known to a merchant; ``user`` links them to the customer portal."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="customers"
    )
    external_id = models.CharField(_("external id"), max_length=128, blank=True, default="")
    email = models.EmailField(_("email"), blank=True, default="")
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        verbose_name=_("user"),
        related_name="customers",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                condition=~Q(external_id=""),
                name="customer_unique_external_id_per_merchant",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "email"], name="customer_merchant_email")]

    def __str__(self) -> str:
        return self.name or self.email or self.external_id or f"Customer {self.pk}"


class Member(models.Model):
    """A customer's enrolment in one program, with the figures the ledger keeps in step.

    ``balance``, ``pending_points``, ``reserved_points`` and ``lifetime_points`` are a cache of
    the ledger, written only by ``ledger.services`` in the same transaction as the entries.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        INACTIVE = "inactive", _("Inactive")

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+"
    )
    program = models.ForeignKey(
        Program, verbose_name=_("program"), on_delete=models.PROTECT, related_name="members"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="members"
    )
    card_id = models.CharField(
        _("card id"), max_length=32, unique=True, default=new_card_id, editable=False
    )
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.ACTIVE)
    enrolled_at = models.DateTimeField(_("enrolled at"))
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity at"), null=True, blank=True)
    balance = models.BigIntegerField(_("balance"), default=0, editable=False)
    pending_points = models.BigIntegerField(_("pending points"), default=0, editable=False)
    reserved_points = models.BigIntegerField(_("reserved points"), default=0, editable=False)
    lifetime_points = models.BigIntegerField(_("lifetime points"), default=0, editable=False)
    tier = models.ForeignKey(
        "tiers.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
        verbose_name=_("tier"),
    )
    streak = models.PositiveIntegerField(_("streak"), default=0)
    # Cached standing kept by the ``tiers`` app (tiers/services), read on every render of a
    # member: the qualifying figure of a rolling-window tier basis (points or money in the
    # window), what a long pause held back from it, and the streak's state and dates (days in
    # the program's time zone).
    tier_value = models.DecimalField(
        _("tier value"), max_digits=18, decimal_places=2, default=0, editable=False
    )
    tier_offset = models.DecimalField(
        _("tier offset"), max_digits=18, decimal_places=2, default=0, editable=False
    )
    streak_state = models.CharField(
        _("streak state"), max_length=8, default="active", editable=False,
        choices=[("active", _("Active")), ("paused", _("Paused")), ("broken", _("Broken"))],
    )
    streak_cycle = models.DateField(_("streak cycle"), null=True, blank=True, editable=False)
    streak_due = models.DateField(_("streak due"), null=True, blank=True, editable=False)
    streak_paused_until = models.DateField(
        _("streak paused until"), null=True, blank=True, editable=False
    )
    # The number of the member's latest domain event (``events.outbox``): their events carry
    # 1, 2, 3 ... in commit order.
    event_sequence = models.PositiveBigIntegerField(_("event sequence"), default=0, editable=False)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "customer"], name="member_one_enrolment_per_program"
            ),
            models.CheckConstraint(condition=Q(balance__gte=0), name="member_balance_gte_0"),
            models.CheckConstraint(
                condition=Q(pending_points__gte=0), name="member_pending_points_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(reserved_points__gte=0), name="member_reserved_points_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(lifetime_points__gte=0), name="member_lifetime_points_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(tier_offset__gte=0), name="member_tier_offset_gte_0"
            ),
        ]
        indexes = [
            models.Index(fields=["program", "status"], name="member_program_status"),
            models.Index(
                fields=["program", "streak_due"], condition=Q(streak_state="active"),
                name="member_streak_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} in {self.program} ({self.card_id_display})"

    @property
    def card_id_display(self) -> str:
        return card_id_display(self.card_id)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class MerchantAPIKey(AbstractAPIKey):
    """A merchant's integration key: shown once, stored hashed, revocable, maybe read-only."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="api_keys"
    )
    read_only = models.BooleanField(_("read only"), default=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        _("rate limit per minute"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text=_("Requests per minute this key may make; empty: the platform's default."),
    )

    objects = ScopedManager(
        merchant="merchant",
        _manager_class=APIKeyManager.from_queryset(InvalidatingQuerySet),
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
