"""Referrals (SPEC 9): codes, who referred whom, the review gate and the rewards given.

Design
------
* A ``ReferralCode`` belongs to one member of one program. A member has at most one active
  code (a partial unique index), so "give me my code" is a get-or-create that survives a race:
  the losers of the insert read the winner's row. A deactivated code stays (its referrals point
  at it) and is never reused; regenerating deactivates it and issues a new one. Codes are
  unique across the platform, not only per merchant: the share link ``/r/<code>/`` carries
  nothing but the code, so a code must name exactly one program (as card ids do).
* A ``Referral`` records that ``referee`` joined or bought with ``referrer``'s code. The
  database holds the abuse guards that are facts about rows: a member is referred at most once
  per program, a source (an order id) attributes at most once, and nobody refers themselves.
  The guards that need judgement (same email, rate limit, new customers only) are the
  services'.
* States: ``pending`` (attributed) -> ``approved`` (reviewed, waiting for an order) ->
  ``converted`` (the referee's first qualifying order) -> ``rewarded`` (both sides given what
  the program says). ``rejected`` rewards nobody; ``clawed_back`` is a rewarded referral whose
  converting order was refunded in full inside the return window; ``expired`` is one whose
  conversion window closed without a qualifying order. Without the approval gate a
  conversion rewards at once, so ``converted`` only lasts while a reviewer has not decided.
* A ``ReferralReward`` is what one side got: points (a ledger entry) or a catalog reward
  (a voucher). One row per side per referral, unique: rewarded once, however many orders race.
* ``ReferralSettings`` is one program's referral terms; a program without a row uses the
  defaults of the model's fields.

Lock order: the referee's member row, then the referrer's, then the referral row. Order hooks
run with the referee already locked (``rules`` locks the buyer first), so every referral
operation that touches both members takes them in that same order, and two referral operations
never wait on each other crosswise. Points move only through ``ledger.services``.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from loyaltysite.currencies import MINOR_UNITS

# No 0/O, 1/I/L or U/V look-alikes: read aloud, typed from a poster, copied by hand.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
CODE_LENGTH = 8  # 29**8: about 5 * 10**11 codes


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_referral_code(value: object) -> str:
    """What a person typed (any case, spaces, dashes) to the stored form."""
    return "".join(str(value).split()).replace("-", "").upper()


class RewardKind(models.TextChoices):
    POINTS = "points", _("Points")
    REWARD = "reward", _("A catalog reward (voucher)")
    NONE = "none", _("Nothing")


class ReferralSettings(models.Model):
    """A program's referral terms. Without a row, the field defaults apply."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT,
        related_name="referral_settings"
    )
    is_enabled = models.BooleanField(
        _("referrals enabled"), default=True,
        help_text=_("When off, codes attribute nothing (the answer says so)."),
    )
    referrer_reward_kind = models.CharField(
        _("referrer gets"), max_length=8, choices=RewardKind, default=RewardKind.POINTS
    )
    referrer_points = models.PositiveIntegerField(
        _("referrer points"), default=200, validators=[MaxValueValidator(10_000_000)]
    )
    referrer_reward = models.ForeignKey(
        "rewards.Reward", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("referrer reward"),
    )
    referee_reward_kind = models.CharField(
        _("referred friend gets"), max_length=8, choices=RewardKind, default=RewardKind.POINTS
    )
    referee_points = models.PositiveIntegerField(
        _("referred friend points"), default=100, validators=[MaxValueValidator(10_000_000)]
    )
    referee_reward = models.ForeignKey(
        "rewards.Reward", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("referred friend reward"),
    )
    min_order_amount = models.DecimalField(
        _("minimum order amount"), max_digits=14, decimal_places=3, default=0,
        validators=[MinValueValidator(0)],
        help_text=_("The friend's first order of at least this much (money paid) converts."),
    )
    conversion_window_days = models.PositiveSmallIntegerField(
        _("conversion window (days)"), default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Days after attribution in which a qualifying order converts."),
    )
    requires_approval = models.BooleanField(
        _("approval gate"), default=False,
        help_text=_("Referrals wait for a Manager's approval before anyone is rewarded."),
    )
    new_customers_only = models.BooleanField(
        _("new customers only"), default=True,
        help_text=_("A member who already ordered cannot be referred (the order being "
                    "attributed excepted)."),
    )
    limit_count = models.PositiveIntegerField(
        _("referrals per referrer per period"), null=True, blank=True, default=10,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text=_("Empty for no limit."),
    )
    limit_period_days = models.PositiveSmallIntegerField(
        _("period (days)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("referral settings")
        verbose_name_plural = _("referral settings")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program"], name="referrals_settings_one_per_program"
            ),
            models.CheckConstraint(
                condition=Q(min_order_amount__gte=0), name="referrals_settings_min_amount_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(conversion_window_days__gte=1),
                name="referrals_settings_window_gte_1",
            ),
            models.CheckConstraint(
                condition=Q(limit_count__isnull=True) | Q(limit_count__gte=1),
                name="referrals_settings_limit_gte_1",
            ),
            models.CheckConstraint(
                condition=Q(limit_period_days__gte=1), name="referrals_settings_period_gte_1"
            ),
            *[
                models.CheckConstraint(
                    condition=(Q(**{f"{side}_reward_kind": "reward"})
                               & Q(**{f"{side}_reward__isnull": False}))
                    | (Q(**{f"{side}_reward_kind": "points"})
                       & Q(**{f"{side}_points__gt": 0}))
                    | Q(**{f"{side}_reward_kind": "none"}),
                    name=f"referrals_settings_{side}_reward_shape",
                )
                for side in ("referrer", "referee")
            ],
        ]

    def __str__(self) -> str:
        return str(_("Referral settings of %(program)s") % {"program": self.program})

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for side in ("referrer", "referee"):
            kind = getattr(self, f"{side}_reward_kind")
            reward = getattr(self, f"{side}_reward")
            if kind == RewardKind.POINTS and not getattr(self, f"{side}_points"):
                errors[f"{side}_points"] = _("Give at least one point, or choose nothing.")
            if kind == RewardKind.REWARD:
                if reward is None:
                    errors[f"{side}_reward"] = _("Choose the catalog reward to give.")
                elif reward.program_id != self.program_id or reward.deleted_at is not None:
                    errors[f"{side}_reward"] = _("Choose a reward of this program's catalog.")
            elif reward is not None:
                setattr(self, f"{side}_reward", None)  # only a reward kind keeps a reward
        amount = self.min_order_amount
        if amount is not None and self.program_id is not None:
            digits = MINOR_UNITS.get(self.program.currency, 2)
            if amount != round(amount, digits):
                errors["min_order_amount"] = _(
                    "%(currency)s has %(digits)d decimal places at most."
                ) % {"currency": self.program.currency, "digits": digits}
        if errors:
            raise ValidationError(errors)


class ReferralCode(models.Model):
    """A member's shareable code. At most one active code per member."""

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT,
        related_name="referral_codes"
    )
    code = models.CharField(_("code"), max_length=16, default=new_referral_code, editable=False)
    is_active = models.BooleanField(_("is active"), default=True)
    created_at = models.DateTimeField(_("created at"))
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True)
    deactivated_by = models.CharField(_("deactivated by"), max_length=128, blank=True, default="")

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name_plural = _("referral codes")
        verbose_name = _("referral code")
        ordering = ["-id"]
        permissions = [("deactivate_referralcode", "Can deactivate or regenerate referral codes")]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="referrals_code_unique"),
            models.UniqueConstraint(
                fields=["merchant", "member"], condition=Q(is_active=True),
                name="referrals_code_one_active_per_member",
            ),
            models.CheckConstraint(
                condition=Q(is_active=True) | Q(deactivated_at__isnull=False),
                name="referrals_code_deactivated_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Referral(models.Model):
    """``referee`` joined or bought with ``referrer``'s code."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        CONVERTED = "converted", _("Converted")
        REWARDED = "rewarded", _("Rewarded")
        REJECTED = "rejected", _("Rejected")
        CLAWED_BACK = "clawed_back", _("Clawed back")
        EXPIRED = "expired", _("Expired")

    class Channel(models.TextChoices):
        ENROLMENT = "enrolment", _("Enrolment (API)")
        PORTAL = "portal", _("Portal sign-up")
        CHECKOUT = "checkout", _("Checkout (API)")

    class Decision(models.TextChoices):
        NONE = "", _("Not reviewed")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
    )
    code = models.ForeignKey(
        ReferralCode, verbose_name=_("code"), on_delete=models.PROTECT, related_name="referrals",
    )
    referrer = models.ForeignKey(
        "members.Member", verbose_name=_("referrer"), on_delete=models.PROTECT,
        related_name="referrals_made"
    )
    referee = models.ForeignKey(
        "members.Member", verbose_name=_("referee"), on_delete=models.PROTECT,
        related_name="referrals_received"
    )
    status = models.CharField(_("status"), max_length=12, choices=Status, default=Status.PENDING)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    source = models.CharField(
        _("source"), max_length=128, blank=True, default="",
        help_text=_("What the attribution came with, e.g. the order id at checkout."),
    )
    actor = models.CharField(_("actor"), max_length=128, blank=True, default="")
    created_at = models.DateTimeField(_("attributed at"))
    expires_at = models.DateTimeField(
        _("conversion deadline"), help_text=_("A qualifying order after this converts nothing.")
    )
    order = models.ForeignKey(
        "rules.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("converting order"),
    )
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    rewarded_at = models.DateTimeField(_("rewarded at"), null=True, blank=True)
    decision = models.CharField(
        _("decision"), max_length=8, choices=Decision, blank=True, default="",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=128, blank=True, default="")
    decision_reason = models.CharField(_("decision reason"), max_length=255, blank=True, default="")
    clawed_back_at = models.DateTimeField(_("clawed back at"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-id"]
        permissions = [("review_referral", "Can approve or reject referrals")]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "program", "referee"], name="referrals_once_per_referee"
            ),
            models.UniqueConstraint(
                fields=["merchant", "program", "source"], condition=~Q(source=""),
                name="referrals_once_per_source",
            ),
            models.CheckConstraint(
                condition=~Q(referrer=F("referee")), name="referrals_not_self"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="referrals_deadline_after_attribution",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["converted", "rewarded", "clawed_back"])
                | (Q(order__isnull=False) & Q(converted_at__isnull=False)),
                name="referrals_converted_has_order",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(decision="rejected"),
                name="referrals_rejected_was_decided",
            ),
        ]
        indexes = [
            models.Index(fields=["referrer", "created_at"], name="referrals_referrer_recent"),
            models.Index(fields=["program", "status", "-id"], name="referrals_program_status"),
            models.Index(
                fields=["expires_at", "id"], condition=Q(status__in=["pending", "approved"]),
                name="referrals_open_due",
            ),
        ]

    def __str__(self) -> str:
        return str(_("Referral %(id)s (%(status)s)") % {
            "id": self.pk, "status": self.get_status_display(),
        })


class ReferralReward(models.Model):
    """What one side of a referral got: points (a ledger entry) or a voucher. Once per side."""

    class Side(models.TextChoices):
        REFERRER = "referrer", _("Referrer")
        REFEREE = "referee", _("Referred friend")

    class Kind(models.TextChoices):
        POINTS = "points", _("Points")
        VOUCHER = "voucher", _("Voucher")

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        SKIPPED = "skipped", _("Skipped")
        CLAWED_BACK = "clawed_back", _("Clawed back")

    merchant = models.ForeignKey(
        "members.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="+",
    )
    program = models.ForeignKey(
        "members.Program", verbose_name=_("program"), on_delete=models.PROTECT, related_name="+",
    )
    referral = models.ForeignKey(
        Referral, verbose_name=_("referral"), on_delete=models.PROTECT, related_name="rewards",
    )
    member = models.ForeignKey(
        "members.Member", verbose_name=_("member"), on_delete=models.PROTECT,
        related_name="referral_rewards"
    )
    side = models.CharField(_("side"), max_length=8, choices=Side)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind)
    status = models.CharField(_("status"), max_length=12, choices=Status, default=Status.GRANTED)
    points = models.BigIntegerField(_("points"), default=0)
    entry = models.ForeignKey(
        "ledger.Entry", verbose_name=_("entry"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+"
    )
    reward = models.ForeignKey(
        "rewards.Reward", verbose_name=_("reward"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+"
    )
    voucher = models.ForeignKey(
        "rewards.Voucher", verbose_name=_("voucher"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(
        _("note"), max_length=255, blank=True, default="",
        help_text=_("Why it was skipped or cut short.")
    )
    points_reversed = models.BigIntegerField(_("points reversed"), default=0)
    points_shortfall = models.BigIntegerField(
        _("points shortfall"), default=0,
        help_text=_("Points a clawback could not take back: the member spent them.")
    )
    created_at = models.DateTimeField(_("created at"))
    clawed_back_at = models.DateTimeField(_("clawed back at"), null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("referral reward")
        verbose_name_plural = _("referral rewards")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "referral", "side"], name="referrals_reward_once_per_side"
            ),
            models.CheckConstraint(
                condition=Q(points__gte=0) & Q(points_reversed__gte=0)
                & Q(points_shortfall__gte=0)
                & Q(points__gte=F("points_reversed") + F("points_shortfall")),
                name="referrals_reward_points_add_up",
            ),
            models.CheckConstraint(
                condition=Q(status="skipped")
                | (Q(kind="points") & Q(entry__isnull=False) & Q(points__gt=0))
                | (Q(kind="voucher") & Q(voucher__isnull=False)),
                name="referrals_reward_granted_shape",
            ),
        ]

    def __str__(self) -> str:
        side, kind = self.get_side_display(), self.get_kind_display()
        return f"{side}: {kind} ({self.get_status_display()})"
