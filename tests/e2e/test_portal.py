"""The customer portal in a browser, on a desktop and on a phone: sign in, follow the history,
redeem a reward and show its voucher; no serious accessibility violation on its pages."""

from __future__ import annotations

import re

import pytest

from rewards.models import Voucher

from .data import CUSTOMER, HELD, REWARD
from .pages import DESKTOP, PHONE, expect, portal_sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_customer_redeems_a_reward_and_follows_their_history(page, shop, viewport):
    page.set_viewport_size(viewport)
    balance = shop.member.balance
    portal_sign_in(page, CUSTOMER)

    expect(page.get_by_role("heading", name="My programs")).to_be_visible()
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=shop.program.name))
    expect(card.get_by_text(f"{balance} points")).to_be_visible()
    expect(card.locator(".figure").filter(has_text="On hold")).to_contain_text(str(HELD))
    assert _fits_the_width(page), "the home page scrolls sideways"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rewards").click()
    page.get_by_role("link", name=f"Redeem {REWARD}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Redeem {REWARD}?")).to_be_visible()
    assert not Voucher.objects.filter(member=shop.member).exists(), "redeemed before confirming"
    page.get_by_role("button", name=f"Yes, redeem {REWARD}").click()

    expect(page.get_by_role("heading", name=REWARD)).to_be_visible()
    voucher = Voucher.objects.get(member=shop.member)
    expect(page.get_by_role("img", name=f"QR code of voucher {voucher.code_display}")
           ).to_be_visible()
    expect(page.get_by_text(voucher.code_display, exact=True)).to_be_visible()
    assert _fits_the_width(page), "the voucher scrolls sideways"
    shop.member.refresh_from_db()
    assert shop.member.balance == balance - shop.reward.points_cost

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My programs").click()
    card.get_by_role("link", name=re.compile("^History")).click()

    expect(page.get_by_role("heading", name=re.compile("History"))).to_be_visible()
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows.filter(has_text="In-store purchase")).to_have_count(6)
    expect(rows.filter(has_text="Free croissant")).to_have_count(1)
    expect(rows.filter(has_text="Goodwill: order arrived late")).to_have_count(1)
    redeemed = rows.filter(has_text=f"Reward: {REWARD}")
    expect(redeemed.first).to_contain_text(re.compile(f"[-\u2212]{shop.reward.points_cost}"))
    expect(redeemed).to_have_count(1)
    expect(rows.filter(has_text="Table booking")).to_contain_text("Redemption on hold")
    expect(rows.locator(".badge", has_text="Pending: spendable from")).to_have_count(2)


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
