import pytest
from django.core.cache import cache

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.api",
    "tests.fixtures.datasets",
    "tests.fixtures.s3",
    "tests.fixtures.worker",
    "tests.fixtures.tcp_proxy",
    "tests.fixtures.browser",
]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Stored files of a test go to its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()
