import importlib
import threading
import time

import pytest

from core import fault_points


@pytest.fixture
def armed(monkeypatch, tmp_path):
    def arm(spec: str):
        monkeypatch.setenv("GROUNDWORK_FAULT_POINTS", spec)
        monkeypatch.setenv("GROUNDWORK_FAULT_DIR", str(tmp_path))
        return importlib.reload(fault_points)

    yield arm
    monkeypatch.delenv("GROUNDWORK_FAULT_POINTS")
    importlib.reload(fault_points)


def test_a_point_not_armed_returns_at_once():
    fault_points.fault_point("manifest.after_batch")  # nothing armed in the test process


def test_an_armed_point_pauses_on_its_turn_only_and_leaves_a_marker(armed, tmp_path):
    module = armed("manifest.after_batch:2, probing.after_page")
    module.fault_point("manifest.after_batch")  # 1st turn
    module.fault_point("s3_folder.after_page")  # not armed
    assert not list(tmp_path.iterdir())

    paused = threading.Thread(target=module.fault_point, args=("manifest.after_batch",), daemon=True)
    paused.start()  # 2nd turn: sleeps until the process ends (a daemon thread here)
    deadline = time.monotonic() + 5
    while not (tmp_path / "manifest.after_batch.2").exists() and time.monotonic() < deadline:
        time.sleep(0.01)

    assert (tmp_path / "manifest.after_batch.2").read_text().isdigit()
    assert paused.is_alive()
    module.fault_point("manifest.after_batch")  # a 3rd turn passes
