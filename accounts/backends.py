"""Sign-in throttling (django-axes) for the two front doors, the console and the portal."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class ThrottledSignInBackend(AxesStandaloneBackend):
    """Refuses a sign-in while its username and address are locked out.

    Only sign-ins over HTTP are throttled: an ``authenticate()`` without a request (a management
    command, the test client's ``login()``) is not a front door, and falls through to the next
    backend instead of raising.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
