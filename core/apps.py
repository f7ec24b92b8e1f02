from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_save


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from core.tokens import revoke_tokens_on_credentials_change

        # Passwords change and users are deactivated on Django's own paths too: see the receiver's docstring.
        post_save.connect(
            revoke_tokens_on_credentials_change, sender=settings.AUTH_USER_MODEL, dispatch_uid="core.revoke_tokens"
        )


class GroundworkAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin on our site class: the documented way to replace the default `admin.site`."""

    default = False  # named in INSTALLED_APPS; CoreConfig stays core's own config
    default_site = "core.admin_site.GroundworkAdminSite"
