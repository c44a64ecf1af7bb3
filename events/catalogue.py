"""Every event type the platform emits, with what its ``data`` carries (README, API schema).

Each type is ``<group>.<action>``. Endpoints subscribe to types or to whole groups
(``points.*``); an endpoint that lists nothing gets every type. Every event about a member
carries ``data.member``: the member's figures right after the change (``member_figures``).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# type -> (description, the keys of ``data`` beside ``member``)
CATALOGUE: dict[str, tuple[str, tuple[str, ...]]] = {
    "member.enrolled": (_("A customer joined a program."), ("customer",)),
    "member.status_changed": (
        _("A member was suspended, reactivated or deactivated."), ("previous_status",)
    ),
    "points.earned": (_("Points were credited (an order, an action, a bonus)."), ("entry",)),
    "points.adjusted": (_("Staff or an integration corrected a balance, with a reason."),
                        ("entry",)),
    "points.redeemed": (_("Points were spent (a confirmed redemption or a direct debit)."),
                        ("entry",)),
    "points.reversed": (_("Points of an earlier credit were taken back (a refund)."),
                        ("entry",)),
    "points.expired": (_("Points expired."), ("entry",)),
    "points.expiring": (
        _("Points will expire soon: sent once per member and expiry date, the program's "
          "expiry warning days before."),
        ("points", "expires_on", "expires_at"),
    ),
    "points.available": (_("Pending points became spendable (the return window closed)."),
                         ("entry",)),
    "order.recorded": (_("An order was recorded and earned points."), ("order",)),
    "order.refunded": (_("Part or all of an order was refunded; its points were reversed."),
                       ("order", "refund")),
    "reward.reserved": (_("Points were reserved for a reward or an order discount."),
                        ("redemption",)),
    "reward.redeemed": (_("A reservation was confirmed: the points are spent."),
                        ("redemption", "voucher")),
    "reward.released": (_("A reservation was released or expired: the points are back."),
                        ("redemption",)),
    "voucher.used": (_("A reward's voucher was used at the till."), ("voucher",)),
    "tier.changed": (_("A member moved to another tier."),
                     ("from", "to", "reason", "actor", "note")),
    "streak.milestone": (_("A member's streak reached a milestone and was paid."),
                         ("count", "cycle", "cycle_start", "points", "tier", "entry_id")),
    "streak.broken": (_("A member's streak was broken."), ("previous_count", "reason")),
    "referral.attributed": (_("A sign-up or a sale was attributed to a referral code (for "
                             "the referrer)."), ("referral",)),
    "referral.converted": (_("A referred customer made their first qualifying order (for the "
                            "referrer)."), ("referral", "amount", "currency")),
    "referral.rewarded": (_("A referral paid one side its reward (one event per side)."),
                          ("referral", "side", "kind", "points", "voucher_code", "pending")),
    "referral.rejected": (_("A referral was rejected in review: it rewards nobody (for the "
                           "referrer)."), ("referral", "reason", "decided_by")),
    "referral.clawed_back": (
        _("The converting order was refunded in full: a side's reward was taken back."),
        ("referral", "side", "points_reversed", "points_shortfall", "voucher_code"),
    ),
    "webhook.test": (_("Sent on request to check an endpoint; it concerns no member."),
                     ("message",)),
}

EVENT_TYPES: tuple[str, ...] = tuple(CATALOGUE)
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(t.split(".", 1)[0] for t in EVENT_TYPES))
# What an endpoint can subscribe to: ``webhook.test`` only ever goes to the endpoint tested.
SUBSCRIBABLE_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t != "webhook.test")
SUBSCRIBABLE_GROUPS: tuple[str, ...] = tuple(g for g in GROUPS if g != "webhook")


def group_of(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def wildcard(group: str) -> str:
    return f"{group}.*"


def filter_choices() -> list[str]:
    """What an endpoint's ``event_types`` may list: types, then ``<group>.*`` wildcards."""
    return [*SUBSCRIBABLE_TYPES, *(wildcard(g) for g in SUBSCRIBABLE_GROUPS)]


def is_known_filter(value: str) -> bool:
    return value in filter_choices()


def wants(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to ``event_types`` gets ``event_type`` (the same rule as
    the fan-out's SQL in ``events.outbox``)."""
    return (
        not event_types
        or event_type in event_types
        or wildcard(group_of(event_type)) in event_types
    )
