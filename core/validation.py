"""Validating request bodies with input serializers (shape only; rules live in services)."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Mapping[str, Any]:
    """The validated data of `data`, or a ValidationError rendered as the error envelope."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
