"""The few tables of `core`: what the platform keeps about API tokens beside DRF's own Token."""

from django.db import models
from rest_framework.authtoken.models import Token


class TokenActivity(models.Model):
    """When an API token was last used, to the hour (core.tokens): its sliding expiry counts from here.

    DRF's Token has only `created`, and is not ours to change; a token without a row counts from `created`.
    """

    token = models.OneToOneField(Token, on_delete=models.CASCADE, primary_key=True, related_name="activity")
    last_used_at = models.DateTimeField()

    class Meta:
        verbose_name = "API token activity"
        verbose_name_plural = "API token activity"

    def __str__(self) -> str:
        return f"{self.token_id[:8]}… used {self.last_used_at:%Y-%m-%d %H:%M}"
