"""What the browser tests do on a page: sign in, and the features still being built.

``LANDED`` names the parts of issue 12 that the tests expect on main. Each one switches on the
single assertion (or step) that waits for it; while it is False the test checks what main has.
"""

from __future__ import annotations

import re
from typing import Any

from .data import PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # then conftest marks every browser test skipped, with the reason
    expect = None

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

LANDED = {
    # analytics: the dashboard draws its charts (Chart.js, canvas elements).
    "charts": False,
    # imports: the rule form shows the fields of its kind; "Try it" answers beside the form.
    "rule_form": False,
    # frontdoor: styled 403 page in the console.
    "styled_errors": False,
    # frontdoor: staff who sign in at the portal's door land on the console.
    "staff_land_on_console": False,
    # frontdoor: a favicon (until then the browser's request for it answers 404).
    "favicon": False,
    # portal: redeeming asks for confirmation first.
    "redeem_confirmation": True,
}


def console_sign_in(page: Any, username: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").first.click()
    page.wait_for_url("**/admin/")


def portal_sign_in(page: Any, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def redeem(page: Any, reward: str) -> None:
    """Press the reward's Redeem control in the catalogue (a button that redeems at once, or a
    link to the confirmation page), and confirm when asked."""
    name = re.compile(f"^Redeem {re.escape(reward)}$")
    page.get_by_role("link", name=name).or_(page.get_by_role("button", name=name)).click()
    if LANDED["redeem_confirmation"]:
        expect(page.get_by_role("heading", name=f"Redeem {reward}?")).to_be_visible()
        page.get_by_role("button", name=f"Yes, redeem {reward}").click()


def charts_drawn(page: Any) -> int:
    """How many canvases on the page hold a Chart.js chart (0 when Chart.js is not loaded)."""
    return page.evaluate(
        """() => {
            const chart = window.Chart;
            if (!chart || !chart.getChart) return 0;
            return [...document.querySelectorAll('canvas')]
                .filter((canvas) => chart.getChart(canvas)).length;
        }"""
    )
