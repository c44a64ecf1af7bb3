"""The customer portal in a browser, on a desktop and on a phone: sign in, follow the history,
redeem a reward and show its voucher; no serious accessibility violation on its pages."""

from __future__ import annotations

import re

import pytest

from rewards.models import Voucher

from .data import CUSTOMER, REWARD
from .pages import DESKTOP, LANDED, PHONE, expect, portal_sign_in, redeem

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_customer_follows_their_history_and_redeems_a_reward(page, shop, viewport):
    page.set_viewport_size(viewport)
    balance = shop.member.balance
    portal_sign_in(page, CUSTOMER)

    expect(page.get_by_role("heading", name="My programs")).to_be_visible()
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=shop.program.name))
    expect(card.get_by_text(f"{balance} points")).to_be_visible()
    assert _fits_the_width(page), "the home page scrolls sideways"

    card.get_by_role("link", name=re.compile("^History")).click()

    expect(page.get_by_role("heading", name=re.compile("History"))).to_be_visible()
    history = page.get_by_role("table")
    expect(history.get_by_text("In-store purchase").first).to_be_visible()
    expect(history.get_by_text("Free croissant")).to_be_visible()
    expect(history.get_by_text("Goodwill: order arrived late")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rewards").click()
    redeem(page, REWARD)

    expect(page.get_by_role("heading", name=REWARD)).to_be_visible()
    voucher = Voucher.objects.get(member=shop.member)
    expect(page.get_by_role("img", name=f"QR code of voucher {voucher.code_display}")
           ).to_be_visible()
    expect(page.get_by_text(voucher.code_display, exact=True)).to_be_visible()
    shop.member.refresh_from_db()
    assert shop.member.balance == balance - shop.reward.points_cost


def _fits_the_width(page) -> bool:
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


SERIOUS = {"serious", "critical"}


def test_portal_pages_have_no_serious_accessibility_violation(page, shop, browser_problems):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found = {}

    def check(name: str, path: str) -> None:
        page.goto(path)
        results = axe.run(page)
        assert results.response["testEngine"]["name"] == "axe-core"
        assert results.response["passes"], f"axe checked nothing on {path}"
        found[name] = _serious(results)

    check("sign-in", "/accounts/login/")
    check("join", f"/join/{shop.program.pk}/")
    portal_sign_in(page, CUSTOMER)
    check("home", "/")
    check("history", f"/memberships/{shop.member.card_id}/")
    check("rewards", "/rewards/")
    if LANDED["redeem_confirmation"]:
        check("redeem", f"/rewards/{shop.member.card_id}/{shop.reward.pk}/redeem/")
    voucher = _voucher(shop)
    check("vouchers", "/vouchers/")
    check("voucher", f"/vouchers/{voucher.code}/")
    browser_problems.allow("/vouchers/NO-SUCH-CODE/")
    check("not found", "/vouchers/NO-SUCH-CODE/")

    assert not any(found.values()), {name: v for name, v in found.items() if v}


def _serious(results) -> list[str]:
    return [
        f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes: "
        f"{', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in results.response["violations"] if v["impact"] in SERIOUS
    ]


def _voucher(shop) -> Voucher:
    from rewards.services import reward_redeem_now

    return reward_redeem_now(member=shop.member, reward=shop.reward,
                             actor="system:e2e").voucher
