"""Serializer fields shared by the apps' APIs."""

from rest_framework import serializers


class CodedChoiceField(serializers.ChoiceField):
    """A choice field whose refusal carries a specific error code (e.g. `unknown_role`) instead of DRF's generic one."""

    def __init__(self, *args, invalid_code: str, **kwargs) -> None:
        self.invalid_code = invalid_code
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data: object) -> object:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if getattr(exc.detail[0], "code", None) == "invalid_choice":
                choices = ", ".join(str(choice) for choice in self.choices)
                raise serializers.ValidationError(
                    f"{data!r} is not one of: {choices}.", code=self.invalid_code
                ) from exc
            raise
