"""The API speaks JSON only: an ``Accept`` header asking for anything else still gets JSON
(never a 406 the schema would have to list for every operation)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class JsonOnly(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
