"""The interactive API docs, served with nothing from another host.

Swagger UI and ReDoc come from ``drf-spectacular-sidecar`` (static files of this server). The
Swagger page loads its set-up script from a URL of its own rather than inline, the ReDoc page
has no web fonts (``templates/drf_spectacular/redoc.html``), and both answer with a Content
Security Policy that lets the browser fetch only from this origin: ReDoc's built-in logo on
``cdn.redoc.ly`` is never requested.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

DOCS_CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # both UIs inject their own <style> elements
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",  # ReDoc's search index runs in a worker made from a blob
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
])


class _SameOriginOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class SwaggerDocsView(_SameOriginOnly, SpectacularSwaggerSplitView):
    pass


class RedocDocsView(_SameOriginOnly, SpectacularRedocView):
    pass
