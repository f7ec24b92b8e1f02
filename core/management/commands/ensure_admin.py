"""Create the first administrator of a fresh installation, once, and say how to log in."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a superuser when there is none. The password comes from GROUNDWORK_ADMIN_PASSWORD, "
        "or is generated and printed once."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001 - Django's signature
        parser.add_argument("--username", default=os.environ.get("GROUNDWORK_ADMIN_USERNAME", "admin"))
        parser.add_argument("--url", default=os.environ.get("GROUNDWORK_URL", "http://127.0.0.1:8000"))

    def handle(self, *args: object, username: str, url: str, **options: object) -> None:
        users = get_user_model().objects
        existing = users.filter(is_superuser=True).order_by("id").first()
        if existing is not None:
            self.stdout.write(f"An administrator exists already: log in at {url}/admin/ as {existing.username}.")
            return
        password = os.environ.get("GROUNDWORK_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created the administrator {username}."))
        if os.environ.get("GROUNDWORK_ADMIN_PASSWORD"):
            self.stdout.write(f"Log in at {url}/admin/ as {username} with GROUNDWORK_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                f"Log in at {url}/admin/ as {username} with the password {password}\n"
                "(shown once; change it in the admin, or set GROUNDWORK_ADMIN_PASSWORD before the first run)."
            )
