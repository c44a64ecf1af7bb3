"""Rewards catalog, two-phase redemptions and vouchers (SPEC 8).

Design
------
* A ``Reward`` is a catalog item with a points cost. ``stock`` counts the units still free to
  reserve (``NULL``: unlimited). A reservation takes its unit at once, with a guarded
  ``UPDATE ... SET stock = stock - 1 WHERE stock > 0``; a release or expiry gives it back; a
  confirm keeps it. So the last unit can never be sold twice, and the figure the console
  shows is what is left to hand out (units held by open reservations are counted apart).
* A ``Redemption`` is one use of points: for a reward, or as a money discount on an order.
  It owns one ledger ``Hold`` (points moved from balance to reserved) and follows it:
  ``reserved`` -> ``confirmed`` (the hold becomes a spend) | ``released`` | ``expired``.
  Confirming issues a ``Voucher`` for a reward. A voucher can also be given away (a referral
  reward, ``voucher_gift``): it then has no redemption.
* Every change to a member's redemptions runs under that member's row lock (taken first, as
  every ledger writer does), then the reward row: the per-member limit and the balance are
  checked under the lock, so concurrent requests cannot both pass them.
* A ``Voucher`` code is 12 Crockford base32 characters (60 random bits), printed as
  ``XXXX-XXXX-XXXX``; look-ups accept any case, dashes and spaces.

Only ``rewards.services`` writes these tables; points move only through ``ledger.services``.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import (
    FileExtensionValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from loyaltysite.currencies import MINOR_UNITS

VOUCHER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
VOUCHER_CODE_LENGTH = 12  # 60 bits of randomness
DEFAULT_VOUCHER_DAYS = 90


def new_voucher_code() -> str:
    return "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(VOUCHER_CODE_LENGTH))


def normalize_voucher_code(value: str) -> str:
    """What a person typed (lower case, dashes, spaces, O for 0, I/L for 1) to the stored form."""
    cleaned = "".join(str(value).split()).replace("-", "").upper()
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def format_voucher_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


REWARD_IMAGE_MAX_BYTES = 2 * 1024 * 1024
REWARD_IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "gif", "webp"]


def validate_reward_image(image) -> None:
    FileExtensionValidator(REWARD_IMAGE_EXTENSIONS)(image)
    if image.size is not None and image.size > REWARD_IMAGE_MAX_BYTES:
        raise ValidationError("An image may be 2 MB at most.")


class Reward(models.Model):
    """Something a member can spend points on."""

    class Kind(models.TextChoices):
        FIXED_DISCOUNT = "fixed_discount", _("Fixed discount")
        PERCENT_DISCOUNT = "percent_discount", _("Percent discount")
        FREE_PRODUCT = "free_product", _("Free product")
        CUSTOM = "custom", _("Custom")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT,
        related_name="rewards",
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, default="")
    image_url = models.URLField(
        _("image url"), max_length=500, blank=True, default="",
        help_text=_("An image of the reward (https://...), shown in the portal."),
    )
    image = models.ImageField(
        _("image"), upload_to="rewards/%Y/%m/", blank=True, default="",
        validators=[validate_reward_image],
        help_text=_("An uploaded image (PNG, JPEG, GIF or WebP, up to 2 MB), shown in the portal "
                  "instead of the image URL."),
    )
    points_cost = models.PositiveIntegerField(_("points cost"), validators=[MinValueValidator(1)])
    kind = models.CharField(_("kind"), max_length=20, choices=Kind, default=Kind.CUSTOM)
    value = models.DecimalField(
        _("value"), max_digits=14, decimal_places=3, default=0,
        help_text=_("Money off for a fixed discount; percent off for a percent discount."),
    )
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True,
        help_text=_("Units still free to reserve; empty for unlimited. Open reservations hold "
                    "their unit until they are confirmed (kept) or released (given back)."),
    )
    per_member_limit = models.PositiveIntegerField(
        _("per member limit"), null=True, blank=True, validators=[MinValueValidator(1)],
        help_text=_("How many times one member may redeem it; empty for no limit."),
    )
    min_tier = models.ForeignKey(
        "tiers.Tier", verbose_name=_("min tier"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Only members at this tier or above may redeem it."),
    )
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    is_active = models.BooleanField(_("is active"), default=True)
    voucher_valid_days = models.PositiveIntegerField(
        _("voucher valid days"), null=True, blank=True, default=DEFAULT_VOUCHER_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Days a voucher stays valid once issued; empty for no end."),
    )
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["points_cost", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_cost__gt=0), name="rewards_reward_points_cost_gt_0"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="rewards_reward_value_gte_0"),
            models.CheckConstraint(
                condition=~Q(kind="percent_discount") | Q(value__gt=0, value__lte=100),
                name="rewards_reward_percent_within_100",
            ),
            models.CheckConstraint(
                condition=~Q(kind="fixed_discount") | Q(value__gt=0),
                name="rewards_reward_fixed_value_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(starts_at__lt=models.F("ends_at")),
                name="rewards_reward_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["program", "is_active"], name="rewards_reward_program")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        value = self.value if self.value is not None else 0
        if self.kind == self.Kind.PERCENT_DISCOUNT and not 0 < value <= 100:
            errors["value"] = "A percent discount is more than 0 and at most 100."
        if self.kind == self.Kind.FIXED_DISCOUNT:
            if value <= 0:
                errors["value"] = "A fixed discount needs an amount of money."
            elif self.program_id:
                digits = MINOR_UNITS.get(self.program.currency, 2)
                if value != round(value, digits):
                    errors["value"] = (
                        f"{self.program.currency} has {digits} decimal places at most."
                    )
        if value < 0:
            errors["value"] = "Must not be negative."
        if self.starts_at and self.ends_at and self.starts_at >= self.ends_at:
            errors["ends_at"] = "Must be after starts_at."
        if self.min_tier_id and self.program_id and self.min_tier.program_id != self.program_id:
            errors["min_tier"] = "The tier belongs to another program."
        if errors:
            raise ValidationError(errors)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def image_src(self) -> str:
        """What the portal shows: the uploaded image, else the image URL ("" for neither)."""
        return self.image.url if self.image else self.image_url


class Redemption(models.Model):
    """Points reserved for a reward or an order discount, then confirmed or released."""

    class Kind(models.TextChoices):
        REWARD = "reward", _("Reward")
        DISCOUNT = "discount", _("Points as a discount")

    class Status(models.TextChoices):
        RESERVED = "reserved", _("Reserved")
        CONFIRMED = "confirmed", _("Confirmed")
        RELEASED = "released", _("Released")
        EXPIRED = "expired", _("Expired")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT,
        related_name="redemptions"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind)
    reward = models.ForeignKey(
        Reward, verbose_name=_("reward"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="redemptions"
    )
    hold = models.OneToOneField(
        "ledger.Hold", verbose_name=_("hold"), on_delete=models.PROTECT, related_name="redemption",
    )
    points = models.BigIntegerField(_("points"))
    # Points as a discount: what the order was and what the points take off it.
    order_amount = models.DecimalField(
        _("order amount"), max_digits=14, decimal_places=3, null=True, blank=True,
    )
    discount_amount = models.DecimalField(
        _("discount amount"), max_digits=14, decimal_places=3, null=True, blank=True,
    )
    currency = models.CharField(_("currency"), max_length=3)
    order_id = models.CharField(_("order id"), max_length=128, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.RESERVED)
    stock_taken = models.BooleanField(
        _("stock taken"), default=False,
        help_text=_("Whether the reservation took a unit of the reward's stock.")
    )
    # Order refunds give points back in proportion; these add up over partial refunds.
    refunded_amount = models.DecimalField(
        _("refunded amount"), max_digits=14, decimal_places=3, default=0,
    )
    refunded_points = models.BigIntegerField(_("refunded points"), default=0)
    actor = models.CharField(_("actor"), max_length=128)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(_("created at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-id"]
        permissions = [
            ("release_redemption", "Can release a reservation"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0), name="rewards_redemption_points_gt_0"
            ),
            models.CheckConstraint(
                condition=(Q(kind="reward") & Q(reward__isnull=False))
                | (
                    Q(kind="discount")
                    & Q(reward__isnull=True)
                    & Q(order_amount__gt=0)
                    & Q(discount_amount__gte=0)
                ),
                name="rewards_redemption_kind_shape",
            ),
            models.CheckConstraint(
                condition=Q(refunded_points__gte=0) & Q(refunded_points__lte=models.F("points")),
                name="rewards_redemption_refund_within_points",
            ),
            models.CheckConstraint(
                condition=Q(refunded_points=0) | Q(status="confirmed"),
                name="rewards_redemption_refund_only_confirmed",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at", "id"], condition=Q(status="reserved"),
                name="rewards_redemption_open_due",
            ),
            models.Index(
                fields=["member", "reward", "status"], name="rewards_redemption_member"
            ),
            models.Index(
                fields=["program", "order_id"], condition=~Q(order_id=""),
                name="rewards_redemption_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Redemption {self.pk} ({self.status})"


class Voucher(models.Model):
    """What a confirmed reward gives the customer: a code to show or paste at checkout."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT,
        related_name="vouchers",
    )
    # Empty for a voucher given away (a referral reward) rather than bought with points.
    redemption = models.OneToOneField(
        Redemption, verbose_name=_("redemption"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="voucher"
    )
    reward = models.ForeignKey(
        Reward, verbose_name=_("reward"), on_delete=models.PROTECT, related_name="vouchers",
    )
    code = models.CharField(
        _("code"), max_length=16, unique=True, default=new_voucher_code, editable=False,
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.ISSUED)
    issued_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_reference = models.CharField(_("used reference"), max_length=128, blank=True, default="")
    used_by = models.CharField(_("used by"), max_length=128, blank=True, default="")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-id"]
        permissions = [("use_voucher", "Can mark a voucher used")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="used") | Q(used_at__isnull=False),
                name="rewards_voucher_used_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at", "id"], condition=Q(status="issued"),
                name="rewards_voucher_open_due",
            ),
        ]

    def __str__(self) -> str:
        return self.code_display

    @property
    def code_display(self) -> str:
        return format_voucher_code(self.code)
