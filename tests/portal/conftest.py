"""Fixtures of the portal suite: the members suite's, shared."""

from tests.members.conftest import login  # noqa: F401
