"""OpenAPI generation: every operation documents the error envelope next to its own answers."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case code, e.g. `not_found`, `last_owner`.")
    message = serializers.CharField(help_text="What went wrong and where.")
    fields = serializers.DictField(child=serializers.CharField(), help_text="Per-field messages, may be empty.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_ERROR_STATUSES = {
    "400": "Invalid input",
    "401": "Not authenticated",
    "403": "The role does not allow this action",
    "404": "Not found, or in a project you are not a member of",
    "429": "Throttled",
}


class GroundworkAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status, description in _ERROR_STATUSES.items():
            if status not in responses:
                response = self._get_response_for_code(ErrorSerializer, status, direction=direction)
                response["description"] = description
                responses[status] = response
        return responses
