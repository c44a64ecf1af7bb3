"""Template helpers of the customer portal: the navigation, membership panels, QR codes.

Navigation: apps add their portal pages with ``portal_nav_register`` (e.g. from their
``AppConfig.ready()``); a link whose URL name does not resolve is left out, so an app can
register before its page exists. Membership cards: apps add a panel with
``portal_member_panel_register``.
"""

from __future__ import annotations

import segno
from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

register = template.Library()

# (url name, label, order): lower order first.
PORTAL_NAV: list[tuple[str, str | Promise, int]] = [("portal:home", _("My programs"), 0)]


def portal_nav_register(url_name: str, label: str | Promise, *, order: int = 50) -> None:
    """Add a link to the portal's main navigation (idempotent per URL name)."""
    if all(name != url_name for name, _label, _order in PORTAL_NAV):
        PORTAL_NAV.append((url_name, label, order))


# Templates included in each membership card of the portal's home page, with ``member`` and
# ``program`` in their context: apps add their piece (tier badge, streak, referral link ...)
# from ``AppConfig.ready()`` instead of editing the home page.
PORTAL_MEMBER_PANELS: list[tuple[str, int]] = []


def portal_member_panel_register(template_name: str, *, order: int = 50) -> None:
    """Show ``template_name`` on every membership card (idempotent per template)."""
    if all(name != template_name for name, _order in PORTAL_MEMBER_PANELS):
        PORTAL_MEMBER_PANELS.append((template_name, order))


# Static stylesheets (paths for ``{% static %}``) the portal's pages link in their head, so
# apps style their panels without inline styles.
PORTAL_STYLESHEETS: list[str] = []


def portal_stylesheet_register(path: str) -> None:
    """Link ``static/<path>`` from every portal page (idempotent)."""
    if path not in PORTAL_STYLESHEETS:
        PORTAL_STYLESHEETS.append(path)


@register.simple_tag
def portal_stylesheets() -> list[str]:
    return list(PORTAL_STYLESHEETS)


@register.simple_tag
def portal_member_panels() -> list[str]:
    return [name for name, _order in sorted(PORTAL_MEMBER_PANELS, key=lambda p: p[1])]


@register.simple_tag(takes_context=True)
def portal_nav(context) -> list[dict[str, object]]:
    request = context.get("request")
    path = request.path if request is not None else ""
    links = []
    for url_name, label, _order in sorted(PORTAL_NAV, key=lambda link: link[2]):
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        current = path == url or (url != "/" and path.startswith(url))
        links.append({"url": url, "label": label, "current": current})
    return links


@register.simple_tag
def qr_svg(data: str, label: str = "") -> str:
    """``data`` as an inline SVG QR code (no JavaScript, no image request), labelled."""
    code = segno.make(str(data), error="m", micro=False)
    svg = code.svg_inline(
        scale=1, border=4, omitsize=True, title=label or None, svgclass="qr",
        lineclass=None, dark="#000", light="#fff",
    )
    return mark_safe(svg.replace("<svg ", '<svg role="img" focusable="false" ', 1))
