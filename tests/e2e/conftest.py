"""Browser tests: Debian's chromium driven by pytest-playwright against pytest-django's live
server (on whatever ``DATABASE_URL`` names; CI runs them on PostgreSQL).

No browser is ever downloaded: chromium is launched from ``E2E_CHROMIUM`` (default
``/usr/bin/chromium``) through ``executable_path``. When playwright or that browser is missing,
every ``e2e`` test is skipped with the reason, printed in the report header and the summary, so
``make test`` still passes on a machine without a browser.

The sync playwright API marks an asyncio loop as running in the main thread once it has
started, which Django's ORM takes for async code: the browser tests therefore run after every
other test, with Django's async-safety check relaxed for them alone. A failing test leaves a
full-page screenshot in ``test-results/``.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .pages import DESKTOP, LANDED

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", "test-results"))
TIMEOUT_MS = 10_000


def missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    for module in ("playwright", "pytest_playwright"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no chromium at {CHROMIUM} (apt-get install chromium, or set E2E_CHROMIUM)"
    return None


def pytest_report_header(config) -> str:
    reason = missing_reason()
    if reason:
        return f"e2e: browser tests will be SKIPPED: {reason}"
    return f"e2e: browser tests drive {CHROMIUM}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Browser tests last (see the module's docstring), or skipped with the reason."""
    e2e = [item for item in items if "e2e" in item.keywords]
    if not e2e:
        return
    reason = missing_reason()
    if reason:
        for item in e2e:
            item.add_marker(pytest.mark.skip(reason=f"e2e: {reason}"))
    chosen = set(map(id, e2e))
    items[:] = [item for item in items if id(item) not in chosen] + e2e


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"e2e_rep_{report.when}", report)


@pytest.fixture(scope="session", autouse=True)
def _django_orm_beside_the_playwright_loop() -> Iterator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options, on the system's chromium (nothing downloaded)."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_FLAGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server):
    return {**browser_context_args, "base_url": live_server.url, "viewport": DESKTOP,
            "locale": "en-GB", "timezone_id": "UTC"}


class BrowserProblems:
    """What the browser complained of while a test ran: uncaught script errors, console errors
    (a Content Security Policy violation is one) and failed loads, less what the test allowed
    (an URL fragment, e.g. the page it expects to be refused)."""

    def __init__(self, page) -> None:
        self.seen: list[str] = []
        self.allowed: list[str] = [] if LANDED["favicon"] else ["/favicon.ico"]
        page.on("pageerror", lambda error: self.seen.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", lambda request: self.seen.append(
            f"failed to load {request.url}: {request.failure}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.seen.append(f"console error: {message.text} ({message.location.get('url')})")

    def allow(self, fragment: str) -> None:
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [seen for seen in self.seen if not any(a in seen for a in self.allowed)]


@pytest.fixture
def browser_problems(page) -> BrowserProblems:
    return page.problems


@pytest.fixture
def page(page, request) -> Iterator:
    """A desktop page (1366x768) on the live server. A failing test leaves a screenshot; a
    passing one fails at teardown if the browser reported a problem it did not allow."""
    page.set_default_timeout(TIMEOUT_MS)
    page.problems = BrowserProblems(page)
    yield page
    failed = any(
        getattr(getattr(request.node, f"e2e_rep_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    if failed:
        _screenshot(page, request.node.nodeid)
    elif problems := page.problems.unexpected():
        pytest.fail("the browser reported:\n" + "\n".join(problems))


def _screenshot(page, nodeid: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:] + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as error:  # noqa: BLE001 - the test's own failure matters more
        print(f"e2e: no screenshot of {nodeid}: {error}")  # noqa: T201
    else:
        print(f"e2e: screenshot of the failure in {path}")  # noqa: T201


@pytest.fixture
def shop(transactional_db, live_server, settings):
    """A merchant with an Owner, a Manager, a program with a rule and a reward, and a customer
    whose member has a few weeks of history (written through the services, as it happened).
    Passwords are hashed fast: every test signs in through the real form."""
    from .data import build_shop

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return build_shop()
