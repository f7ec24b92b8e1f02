"""Named points where a test may pause a worker, so that it can kill it exactly there (pure, no Django).

GROUNDWORK_FAULT_POINTS is set only by the fault tests (tests/faults), in the environment of a worker they
start: a comma-separated list of `name:n`, e.g. "manifest.after_batch:2", meaning "the 2nd time this process
reaches manifest.after_batch". There the process writes a marker file `<name>.<n>` (its pid inside) into
GROUNDWORK_FAULT_DIR and sleeps until it is killed. Unset (production), `fault_point` is a dictionary lookup
in an empty dict. Both variables are read once, when the module is imported.
"""

import os
import time
from collections import Counter
from pathlib import Path


def _parse(spec: str) -> dict[str, int]:
    armed = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition(":")
        armed[name] = int(nth or 1)
    return armed


_ARMED = _parse(os.environ.get("GROUNDWORK_FAULT_POINTS", ""))
_DIR = os.environ.get("GROUNDWORK_FAULT_DIR", "")
_reached: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Pause here for good if the environment armed `name` and this is its armed turn; otherwise nothing."""
    if not _ARMED or name not in _ARMED:
        return
    _reached[name] += 1
    if _reached[name] != _ARMED[name]:
        return
    if _DIR:
        marker = Path(_DIR) / f"{name}.{_ARMED[name]}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()))
    while True:  # until the test kills the process
        time.sleep(3600)
