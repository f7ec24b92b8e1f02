"""Tasks of the platform itself (no domain app): a health check that proves a worker runs work."""

import os
import socket

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import connection


@shared_task(name="core.health_check")
def health_check() -> dict[str, object]:
    """Answer from inside a worker: which process ran it and what database it sees."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "database_vendor": connection.vendor,
        "database_name": str(connection.settings_dict["NAME"]),
        "user_count": get_user_model().objects.count(),
    }
