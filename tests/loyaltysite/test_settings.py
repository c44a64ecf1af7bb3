"""Configuration from the environment, and the production mode (SPEC 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    environment.update({"DJANGO_SETTINGS_MODULE": "loyaltysite.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=120,
    )


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run("import django; django.setup()", DEBUG="False",
                  DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_database_url_selects_the_database(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    sqlite = _run("import django; django.setup(); " + code,
                  DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    postgres = _run("import django; django.setup(); " + code,
                    DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres")
    assert sqlite.stdout.strip() == "django.db.backends.sqlite3"
    assert postgres.stdout.strip() == "django.db.backends.postgresql"


@pytest.mark.slow
def test_production_mode_serves_its_static_files_and_the_api_docs(tmp_path):
    env = {
        "DEBUG": "False", "SECRET_KEY": "test-" + "x" * 50, "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "STATIC_ROOT": str(tmp_path / "st"),
        "SECURE_SSL_REDIRECT": "False",
    }
    collected = _run(
        "import django; django.setup(); from django.core.management import call_command; "
        "call_command('collectstatic', interactive=False, verbosity=0)", **env,
    )
    assert collected.returncode == 0, collected.stderr
    probe = _run(
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client()\n"
        "docs = c.get('/api/docs/', secure=True)\n"
        "print(docs.status_code)\n"
        "import re\n"
        "html = docs.content.decode()\n"
        "css = re.search(r'(/static/[^\"]*swagger-ui[^\"]*\\.css)', html).group(1)\n"
        "print(css)\n"
        "asset = c.get(css, secure=True)\n"
        "print(asset.status_code, asset.get('Content-Type'))\n",
        **env,
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.strip().splitlines()
    assert lines[0] == "200"
    assert lines[1].startswith("/static/")
    assert lines[2].startswith("200 text/css")


def test_postgresql_connections_come_from_a_pool_by_default_sized_by_the_environment():
    code = ("import django; django.setup(); from django.conf import settings; "
            "d = settings.DATABASES['default']; print(d['OPTIONS'].get('pool'), "
            "d['CONN_MAX_AGE'])")
    default = _run(code, DEBUG="False", SECRET_KEY="x" * 50,
                   DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres")
    sized = _run(code, DEBUG="False", SECRET_KEY="x" * 50, DB_POOL_MAX_SIZE="7",
                 DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres")
    off = _run(code, DEBUG="False", SECRET_KEY="x" * 50, DB_POOL="False",
               DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres")

    assert default.stdout.strip() == (
        "{'min_size': 2, 'max_size': 20, 'timeout': 10.0} 0"), default.stderr
    assert "'max_size': 7" in sized.stdout
    assert off.stdout.strip().startswith("None")
