"""The console in German: model names, column headers and choice labels of the ledger, rewards
and rules come from the shipped catalogue, and the catalogue is whole (nothing untranslated or
fuzzy)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from ledger.services import points_adjust
from rewards.services import reward_create
from rules.services import rule_create

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po"


@pytest.fixture
def german(program):
    program.language = "de"
    program.save()
    return program


def headers(page: str) -> list[str]:
    """The changelist's column headers, as text (sort icons and order left out)."""
    cells = re.findall(r'<th\b[^>]*scope="col"[^>]*>(.*?)</th>', page, flags=re.S)
    texts = [re.sub(r"<[^>]+>", "\n", cell).split("\n") for cell in cells]
    return [next((line.strip() for line in text if line.strip()), "") for text in texts]


@pytest.mark.django_db
def test_the_ledger_entries_list_has_german_headers_and_kinds(owner_client, member, german):
    points_adjust(member=member, points=5, actor="test", reason="Kulanz")

    page = owner_client.get(reverse("admin:ledger_entry_changelist")).content.decode()

    assert {"Erstellt am", "Programm", "Art", "Guthaben danach", "Grund", "Referenz"} <= set(
        headers(page)
    )
    assert "Buchung zum Ansehen auswählen" in page
    assert "Anpassung" in page  # the kind of the entry
    assert "Balance after" not in page


@pytest.mark.django_db
def test_the_rewards_list_has_german_headers(owner_client, german):
    reward_create(program=german, name="Kaffee", points_cost=100)

    page = owner_client.get(reverse("admin:rewards_reward_changelist")).content.decode()

    assert {"Name", "Programm", "Art", "Punktepreis"} <= set(headers(page))
    assert "Prämie" in page
    assert "Individuell" in page or "Fester Rabatt" in page  # the reward's kind
    assert "Points cost" not in page


@pytest.mark.django_db
def test_the_rules_list_and_form_are_german(owner_client, german):
    rule = rule_create(program=german, kind="order", config={"points_per_unit": 1}, name="Basis")

    page = owner_client.get(reverse("admin:rules_earningrule_changelist")).content.decode()
    form = owner_client.get(
        reverse("admin:rules_earningrule_change", args=[rule.pk])
    ).content.decode()

    assert {"Name", "Programm", "Art", "Priorität", "Kombinierbar"} <= set(headers(page))
    assert "Sammelregel" in page
    assert "Alle Zeilen auswählen" in page  # the theme's own words, from our catalogue
    assert "Select all rows" not in page
    assert "Bestellung" in page  # the kind "order"
    assert "Höhere Priorität wird zuerst berücksichtigt." in form
    assert "Higher is considered first." not in form


@pytest.mark.django_db
def test_the_consoles_navigation_and_settings_pages_are_german(owner_client, german):
    index = owner_client.get(reverse("admin:index")).content.decode()
    settings_page = owner_client.get(
        reverse("admin:tiers_tiersettings_changelist")
    ).content.decode()

    assert "Anmeldung" in index  # the sign-in app's name
    assert "Buchungen" in index
    assert "Sign-in" not in index
    assert "Stufen- und Serieneinstellungen" in settings_page
    assert "tier and streak settings" not in settings_page


@pytest.mark.django_db
def test_an_english_program_keeps_the_english_console(owner_client, member):
    points_adjust(member=member, points=5, actor="test", reason="Goodwill")

    page = owner_client.get(reverse("admin:ledger_entry_changelist")).content.decode()

    assert {"Created at", "Balance after", "Reason"} <= set(headers(page))
    assert "Adjustment" in page


def entries(text: str) -> list[tuple[dict[str, str], bool]]:
    """The entries of a .po file as their fields (msgid, msgstr ...) and whether each is flagged
    fuzzy; the header (whose msgid is empty) and obsolete ``#~`` entries left out."""
    found = []
    for block in text.split("\n\n"):
        lines = [line for line in block.strip().splitlines() if not line.startswith("#~")]
        fields: dict[str, str] = {}
        current = None
        for line in lines:
            match = re.match(r'^(msgid_plural|msgid|msgstr(?:\[\d+\])?|msgctxt) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
            found.append((fields, fuzzy))
    return found


def unescape(text: str) -> str:
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def test_the_german_catalogue_is_whole():
    found = entries(CATALOGUE.read_text(encoding="utf-8"))
    untranslated = [
        fields["msgid"] for fields, _fuzzy in found
        if any(value == "" for key, value in fields.items() if key.startswith("msgstr"))
    ]
    fuzzy = [fields["msgid"] for fields, is_fuzzy in found if is_fuzzy]

    assert len(found) > 1000
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_msgfmt_finds_the_german_catalogue_whole_and_valid():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(CATALOGUE)],
        capture_output=True, text=True, check=True,
    )

    assert "translated messages" in result.stderr
    assert "untranslated" not in result.stderr
    assert "fuzzy" not in result.stderr


def test_the_compiled_catalogue_matches_its_source():
    with CATALOGUE.with_suffix(".mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    singular = [
        fields for fields, _fuzzy in entries(CATALOGUE.read_text(encoding="utf-8"))
        if "msgstr" in fields and "msgctxt" not in fields
    ]

    stale = [
        fields["msgid"] for fields in singular
        if catalogue.gettext(unescape(fields["msgid"])) != unescape(fields["msgstr"])
    ]

    assert stale == []
