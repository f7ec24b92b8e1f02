"""The database stopped under a running web server (gunicorn, a private PostgreSQL cluster): the API answers
503 with the error envelope and the pages a plain 503 during the outage, and both recover once the database is
back, without a restart."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.private_postgres import PrivatePostgres
from tests.fixtures.s3 import free_port

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from projects.services import project_create
user = get_user_model().objects.create_user("ops", password="a long pass phrase 1")
project_create(user=user, name="Outage", description="")
print(Token.objects.create(user=user).key)
"""


@pytest.fixture(scope="module")
def web_on_private_database():
    data_dir = Path(tempfile.mkdtemp(prefix="gw-pg-"))
    database = PrivatePostgres(data_dir=data_dir, port=free_port())
    database.init()
    env = {
        **os.environ, "DATABASE_URL": database.url, "DEBUG": "false", "SECRET_KEY": "outage-test-key",
        "ALLOWED_HOSTS": "127.0.0.1", "CELERY_BROKER_URL": "memory://", "GROUNDWORK_VAR_DIR": str(data_dir / "var"),
    }  # fmt: skip
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], env=env, check=True, capture_output=True, cwd=ROOT)
    token = subprocess.run(
        [*manage, "shell", "-c", SETUP], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.split()[-1]
    port = free_port()
    log = (data_dir / "gunicorn.log").open("wb")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "2", "--timeout", "60"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(f"{base}/healthz/")[0] == 200)
        yield base, token, database
    finally:
        web.terminate()
        web.wait(timeout=20)
        with contextlib.suppress(subprocess.CalledProcessError):
            database.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def get(url: str, token: str | None = None, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    if cookie:
        headers["Cookie"] = cookie
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except (urllib.error.URLError, ConnectionError):
        return 0, {}, b""


def wait_until(predicate, timeout_s: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def test_the_web_answers_503_while_the_database_is_down_and_recovers_after(web_on_private_database):
    base, token, database = web_on_private_database
    status, _, body = get(f"{base}/api/v1/projects/", token)
    assert status == 200
    assert [p["name"] for p in json.loads(body)["results"]] == ["Outage"]

    database.stop()
    try:
        for _ in range(3):  # every request of the outage, not only the first
            status, headers, body = get(f"{base}/api/v1/projects/", token)
            assert status == 503, body[:500]
            assert json.loads(body)["error"]["code"] == "database_unavailable"
            assert headers["Retry-After"] == "5"
        # A page with a session cookie: the session is read from the database (in middleware, before the view).
        status, headers, body = get(f"{base}/", cookie="sessionid=abcdefghijklmnopqrstuvwxyz012345")
        assert status == 503, body[:500]
        assert headers["Content-Type"].startswith("text/plain")
        assert b"database cannot be reached" in body
        status, _, body = get(f"{base}/healthz/")
        assert status == 503
    finally:
        database.start()

    status, _, body = get(f"{base}/api/v1/projects/", token)  # the first request after: no restart needed
    assert status == 200, body[:500]
    assert get(f"{base}/healthz/")[0] == 200
