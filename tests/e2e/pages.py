"""What the browser tests do on a page: sign in at either door, count the charts drawn."""

from __future__ import annotations

from typing import Any

from .data import PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # then conftest marks every browser test skipped, with the reason
    expect = None

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


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
