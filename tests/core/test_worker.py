import os

import pytest
from django.db import connection

from core.tasks import health_check

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_process_runs_a_task_through_the_broker_on_the_test_database(celery_worker, make_user):
    make_user()
    make_user()

    summary = health_check.delay().get(timeout=60)

    assert summary["pid"] != os.getpid()
    assert summary["database_vendor"] == connection.vendor
    assert summary["database_name"].endswith(str(connection.settings_dict["NAME"]).split("/")[-1])
    assert summary["user_count"] == 2
