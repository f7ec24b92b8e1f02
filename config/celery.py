"""The Celery app `config`: settings come from Django's (CELERY_*), tasks from every installed app."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_startup_objects(**kwargs: object) -> None:
    """Keep the cyclic GC off what a pool process holds from its start (Django, Celery, every app's modules).

    Those objects live as long as the process, yet every full collection walked them again: in a manifest
    import, whose parse makes many small objects, that was about a quarter of the worker's CPU time.
    """
    gc.freeze()
