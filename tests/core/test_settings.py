import os
import subprocess
import sys

from django.conf import settings

from config.celery import app


def run_settings(env_overrides: dict[str, str], code: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="config.settings")
    code = code or "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=60
    )


def test_celery_reads_the_settings_the_code_relies_on():
    # A misspelt CELERY_* setting is silently ignored by Celery: check the values it actually uses.
    assert app.main == "config"
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE
    assert app.conf.task_always_eager is False


def test_health_check_task_is_registered():
    app.loader.import_default_modules()
    assert "core.health_check" in app.tasks


def test_production_refuses_to_start_without_a_secret_key():
    result = run_settings({"DEBUG": "false", "ALLOWED_HOSTS": "example.com"})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = run_settings({"DEBUG": "false", "SECRET_KEY": "x" * 50})

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_starts_with_its_required_settings():
    result = run_settings({"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "example.com"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_malformed_boolean_is_an_error_not_a_guess():
    result = run_settings({"DEBUG": "maybe"})

    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_embedded_defaults_need_no_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "STORAGE_BACKEND"}}
    env.update(GROUNDWORK_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.STORAGES['default']['BACKEND'], s.MEDIA_ROOT)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=60
    )

    assert result.returncode == 0, result.stderr
    engine, broker, storage, media = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker == "filesystem://"
    assert storage == "core.storage.LocalStorage"
    assert media == str(tmp_path / "media")


def test_beat_schedules_the_stalled_import_sweep():
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["requeue-stalled-imports"]
    assert entry["task"] in app.tasks


def test_a_token_lifetime_below_a_day_is_refused():
    result = run_settings({"API_TOKEN_LIFETIME_DAYS": "0"})

    assert result.returncode != 0
    assert "API_TOKEN_LIFETIME_DAYS must be between 1 and 3650" in result.stderr
