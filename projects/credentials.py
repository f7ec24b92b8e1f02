"""Encrypting stored secrets (storage connections' keys) with a key derived from the server's secret.

CREDENTIALS_KEY, when set, is used instead of SECRET_KEY, so that SECRET_KEY can rotate without making the
stored secrets unreadable.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from core.errors import Conflict


def _fernet() -> Fernet:
    secret = settings.CREDENTIALS_KEY or settings.SECRET_KEY
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"groundwork-credentials:{secret}".encode()).digest()))


def encrypt_secret(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt_secret(token: str) -> str:
    """Raises Conflict `credentials_unreadable` when the key changed since the secret was stored."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise Conflict(
            "A stored credential cannot be read with the server's current key; register the connection again.",
            code="credentials_unreadable",
        ) from None
