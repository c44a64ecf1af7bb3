"""Finds what a Content Security Policy without 'unsafe-inline' would block in a page."""

from __future__ import annotations

from html.parser import HTMLParser

DATA_TYPES = {"application/json", "application/ld+json"}


class InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []  # inline <script> elements (data blocks aside)
        self.handlers: list[str] = []  # on* attributes and javascript: URLs
        self.styles: list[str] = []  # <style> elements and style="" attributes

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not named.get("src") and named.get("type") not in DATA_TYPES:
            self.scripts.append(self.get_starttag_text() or tag)
        if tag == "style":
            self.styles.append("<style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.handlers.append(f"{tag} {name}=javascript:")
            if name == "style":
                self.styles.append(f'{tag} style="{value}"')


def inline_parts(html: str) -> InlineFinder:
    finder = InlineFinder()
    finder.feed(html)
    return finder
