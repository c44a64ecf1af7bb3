"""The dashboard as staff see it, and the CSV exports: merchant-scoped, staff only."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.urls import reverse

from analytics.jobs import rollup

pytestmark = pytest.mark.django_db


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>")


def export(program, table: str, period: int = 90) -> str:
    return reverse("admin:analytics_export", args=[program.pk, table]) + f"?period={period}"


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def chart(page: str, name: str) -> dict:
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', page, re.S)
    assert match, name
    return json.loads(match.group(1))


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
@pytest.mark.parametrize("rolled", [False, True])
def test_the_dashboard_draws_its_charts_for_owner_and_manager(request, who, rolled, known,
                                                              clock):
    if rolled:
        rollup(clock=clock, batch_size=500)
    client = request.getfixturevalue(who)

    response = client.get(reverse("admin:index"), {"program": known.program.pk, "period": 90})

    assert response.status_code == 200
    page = response.content.decode()
    points = chart(page, "analytics-points-chart")
    assert [d["data"] for d in points["datasets"]] == [
        [0, 0, 1580, 300], [0, 0, 200, 0], [0, 0, 0, 80]]
    tiers = chart(page, "analytics-tiers-chart")
    assert tiers["labels"] == ["Silver", "Gold", "No tier"]
    assert tiers["datasets"][0]["data"] == [1, 1, 3]
    assert 'data-chart="analytics-points-chart"' in page
    assert "/static/analytics/dashboard.js" in page
    assert "/static/unfold/js/chart/chart.js" in page
    assert "15.50 EUR" in page
    assert "Rival" not in page  # the other merchant's program is not offered
    assert not INLINE_SCRIPT.search(page)  # a CSP is coming: every script is a file or data
    assert export(known.program, "roi").replace("&", "&amp;") in page


def test_the_period_selector_changes_the_figures(owner_client, known):
    short = owner_client.get(reverse("admin:index"), {"period": 30}).context["analytics"]
    long = owner_client.get(reverse("admin:index"), {"period": 365}).context["analytics"]

    assert short["period"] == 30
    assert sum(short["points_chart"]["datasets"][0]["data"]) == 300
    assert sum(long["points_chart"]["datasets"][0]["data"]) == 1880


def test_another_merchants_program_in_the_query_is_ignored(owner_client, known):
    context = owner_client.get(reverse("admin:index"), {"program": known.other_program.pk})

    assert context.context["analytics"]["program"] == known.program


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_every_table_exports_as_csv(request, who, known, clock):
    rollup(clock=clock, batch_size=500)
    client = request.getfixturevalue(who)

    for table in ("members", "liability", "months", "tiers", "rules", "rewards", "referrals",
                  "roi"):
        response = client.get(export(known.program, table))
        assert response.status_code == 200, table
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
    liability = rows(client.get(export(known.program, "liability")))
    assert liability[0] == ["Points", "Outstanding", "Liability"]
    assert liability[-1] == ["Total", "1550", "15.50"]
    rules = rows(client.get(export(known.program, "rules")))
    assert rules[1:] == [["Double points", "2", "150"], ["Welcome", "1", "20"]]
    programs = rows(client.get(reverse("admin:analytics_export_programs")))
    assert [r[0] for r in programs[1:]] == ["Acme Rewards"]


@pytest.mark.parametrize("who", ["owner_client", "manager_client"])
def test_exporting_another_merchants_program_is_404(request, who, known):
    client = request.getfixturevalue(who)

    assert client.get(export(known.other_program, "roi")).status_code == 404
    assert client.get(export(known.program, "no-such-table")).status_code == 404
    programs = rows(client.get(reverse("admin:analytics_export_programs")))
    assert "Rival Rewards" not in [r[0] for r in programs]


def test_exports_are_for_staff_only(client, customer_user, known):
    assert client.get(export(known.program, "roi")).status_code == 302  # to the sign-in

    client.force_login(customer_user)

    response = client.get(export(known.program, "roi"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_spreadsheet_formula_in_a_name_is_quoted(owner_client, known):
    known.double.name = "=HYPERLINK(\"http://evil\")"
    known.double.save(update_fields=["name"])

    exported = rows(owner_client.get(export(known.program, "rules")))

    assert exported[1][0].startswith("'=")


def test_the_operator_sees_every_merchants_programs(client, known):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="op@platform.test", is_staff=True,
                                   is_superuser=True))

    context = client.get(reverse("admin:index")).context

    assert {p.name for p in context["analytics"]["programs"]} == {"Acme Rewards",
                                                                  "Rival Rewards"}
    assert client.get(export(known.other_program, "roi")).status_code == 200
