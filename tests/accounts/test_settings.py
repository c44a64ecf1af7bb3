"""Production settings: `check --deploy` is clean; e-mail goes to the console unless SMTP is
configured by environment variables. Each runs the settings in a fresh process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def _production(**env: str) -> dict[str, str]:
    return {"DEBUG": "False", "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "example.com", **env}


def test_check_deploy_prints_no_warnings_in_production():
    result = _run(["manage.py", "check", "--deploy"], **_production())

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output.upper().replace("NO ISSUES", "")


def _setting(names: str, **env: str) -> str:
    """The settings ``names`` (comma-separated), printed by a process with ``env``."""
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
        "'loyaltysite.settings'); django.setup(); from django.conf import settings; "
        f"print(*(getattr(settings, n.strip()) for n in {names!r}.split(',')), sep='|')"
    )
    result = _run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_mail_is_printed_to_the_console_by_default():
    assert _setting("EMAIL_BACKEND", EMAIL_HOST="") == (
        "django.core.mail.backends.console.EmailBackend"
    )


def test_mail_goes_through_smtp_when_a_host_is_set():
    env = {"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "2525", "EMAIL_USE_TLS": "False"}

    assert _setting("EMAIL_BACKEND", **env) == "django.core.mail.backends.smtp.EmailBackend"
    assert _setting("EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS", **env) == (
        "smtp.example.com|2525|False"
    )


def test_production_cookies_are_secure_and_https_is_enforced():
    values = _setting(
        "SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE, SECURE_SSL_REDIRECT, "
        "SECURE_HSTS_INCLUDE_SUBDOMAINS, SESSION_COOKIE_HTTPONLY, SECURE_HSTS_SECONDS",
        **_production(),
    )

    assert values == "True|True|True|True|True|31536000"
