"""Serializers built once per thread and class, not once per request.

DRF builds a serializer's fields (deep copies of the declared ones; for a ``ModelSerializer``,
introspection of the model too) every time one is instantiated: on the hot write paths that
was a tenth of a request's CPU. Once built, an input or output serializer without context is
only read while it validates or represents, so a prototype per class serves every call. The
prototypes are per thread, so threaded servers never share one mid-call.
"""

from __future__ import annotations

import threading
from typing import Any

from rest_framework import serializers

_local = threading.local()


def prototype(serializer_class: type[serializers.BaseSerializer]) -> serializers.BaseSerializer:
    """The thread's built instance of ``serializer_class`` (no data, no instance, no context)."""
    protos = getattr(_local, "protos", None)
    if protos is None:
        protos = _local.protos = {}
    proto = protos.get(serializer_class)
    if proto is None:
        proto = protos[serializer_class] = serializer_class()
        proto.fields  # noqa: B018 - built here, once
    return proto


def render(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """What ``serializer_class(instance).data`` is, without building the fields again."""
    return prototype(serializer_class).to_representation(instance)


def render_many(serializer_class: type[serializers.Serializer], instances: Any) -> list[Any]:
    proto = prototype(serializer_class)
    return [proto.to_representation(item) for item in instances]
