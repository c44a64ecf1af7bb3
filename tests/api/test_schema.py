"""The OpenAPI schema is valid and generated without warnings."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_is_valid_and_warning_free():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=StringIO())
    assert "/api/v1/programs/{program}/members/{member}/transactions/" in out.getvalue()
