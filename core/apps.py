from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoreConfig(AppConfig):
    name = "core"


class GroundworkAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin on our site class: the documented way to replace the default `admin.site`."""

    default = False  # named in INSTALLED_APPS; CoreConfig stays core's own config
    default_site = "core.admin_site.GroundworkAdminSite"
