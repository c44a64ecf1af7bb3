"""The merchant console in a browser: an Owner runs the program, a Manager is held back."""

from __future__ import annotations

import re

import pytest

from ledger.models import Entry
from members.models import Member
from rules.models import EarningRule

from .data import MANAGER, OWNER
from .pages import charts_drawn, console_sign_in, expect, portal_sign_in

pytestmark = pytest.mark.e2e


def test_an_owner_signs_in_and_reads_the_dashboard(page, shop):
    console_sign_in(page, OWNER)

    expect(page).to_have_title(re.compile("Dashboard"))
    expect(page.get_by_text("Latest ledger entries")).to_be_visible()
    expect(page.get_by_role("cell", name=shop.program.name).first).to_be_visible()
    expect(page.locator("canvas.analytics-chart[data-drawn=true]")).to_have_count(2)
    assert charts_drawn(page) == 2, "Chart.js drew no chart on a canvas"


def test_staff_who_sign_in_at_the_portal_door_land_on_the_console(page, shop):
    portal_sign_in(page, MANAGER)

    page.wait_for_url("**/admin/")
    expect(page).to_have_title(re.compile("Dashboard"))


def test_an_owner_edits_an_earning_rule_and_tries_it(page, shop):
    console_sign_in(page, OWNER)
    page.goto(f"/admin/rules/earningrule/{shop.rule.pk}/change/")

    page.locator("input[name=name]").fill("Triple points on orders of 50 or more")
    page.get_by_label("Multiplier", exact=True).fill("3")
    page.get_by_label("Minimum order amount", exact=True).fill("50")
    page.locator("textarea[name=try_sample]").fill('{"amount": "60.00"}')
    page.get_by_role("button", name="Try it").click()

    expect(page.locator("#try-it-result")).to_contain_text("This rule would award 120 points.")
    expect(page.locator("textarea[name=try_sample]")).to_have_value('{"amount": "60.00"}')
    expect(page.locator("input[name=name]")).to_have_value(
        "Triple points on orders of 50 or more")
    expect(page.get_by_text("Please correct the errors below")).to_have_count(0)
    panel = page.locator("#try-it-result").bounding_box()
    name = page.locator("input[name=name]").bounding_box()
    assert panel["x"] >= name["x"] + name["width"], "Try it is not beside the form"
    shop.rule.refresh_from_db()
    assert shop.rule.config["multiplier"] == "2", "Try it saved the rule"

    page.locator("button[name=_save]").click()

    expect(page.get_by_text("was changed successfully")).to_be_visible()
    rule = EarningRule.objects.get(pk=shop.rule.pk)
    assert rule.name == "Triple points on orders of 50 or more"
    assert rule.config["multiplier"] == "3"


def test_an_owner_adjusts_a_members_points(page, shop):
    balance = shop.member.balance
    console_sign_in(page, OWNER)
    page.goto("/admin/members/member/")
    page.get_by_role("link", name=shop.member.card_id_display).first.click()
    page.get_by_role("link", name="Adjust points").first.click()

    page.get_by_label("Points").fill("-25")
    page.get_by_label("Reason").fill("Broken cup, goodwill reversed")
    page.get_by_role("button", name="Adjust points").click()

    expect(page.get_by_text(f"Adjusted by -25 points; balance {balance - 25}.")).to_be_visible()
    page.get_by_role("link", name="All entries").first.click()
    expect(page.get_by_role("row").filter(has_text="Broken cup, goodwill reversed")
           ).to_contain_text(OWNER)
    assert Member.objects.get(pk=shop.member.pk).balance == balance - 25
    entry = Entry.objects.filter(member=shop.member).latest("id")
    assert (entry.points, entry.reason) == (-25, "Broken cup, goodwill reversed")


def test_a_manager_is_refused_a_program_change(page, shop, browser_problems):
    console_sign_in(page, MANAGER)
    browser_problems.allow("/admin/members/program/add/")

    response = page.goto(f"/admin/members/program/{shop.program.pk}/change/")
    assert response.status == 200
    expect(page.locator("input[name=name]")).to_have_count(0)

    response = page.goto("/admin/members/program/add/")

    assert response.status == 403
    expect(page.get_by_role("heading", name=re.compile("not allowed"))).to_be_visible()
    expect(page.locator("link[rel=stylesheet]").first).to_be_attached()
    page.get_by_role("link", name=re.compile("console", re.I)).first.click()
    expect(page).to_have_title(re.compile("Dashboard"))


SIDEWAYS = """() => {
    const page = document.documentElement;
    const boxes = [...document.querySelectorAll("*")].filter((el) => {
        const overflow = getComputedStyle(el).overflowX;
        return (overflow === "auto" || overflow === "scroll")
            && el.scrollWidth > el.clientWidth + 1;
    });
    return {page: page.scrollWidth > page.clientWidth + 1,
            boxes: boxes.map((el) => el.tagName + "." + el.className)};
}"""


@pytest.mark.parametrize("path", [
    "/admin/rewards/reward/", "/admin/ledger/entry/", "/admin/members/member/",
    "/admin/rules/earningrule/",
])
def test_console_lists_fit_a_1366_pixel_screen(page, shop, path):
    page.set_viewport_size({"width": 1366, "height": 768})
    console_sign_in(page, OWNER)
    page.goto(path)

    expect(page.locator("#result_list")).to_be_visible()
    assert page.evaluate(SIDEWAYS) == {"page": False, "boxes": []}
