"""moto's S3 server with a fixed delay before every request, run by the benches in processes of its own.

    .venv/bin/python bench/s3_server.py --port 5000 --latency-ms 20

moto on loopback answers in about a millisecond of its own CPU; real S3 takes tens of milliseconds to the first
byte of each answer, which is what the importers' parallel probing exists to hide. The delay is a sleep in a
WSGI middleware around moto's app, so moto's CPU stays out of the benchmarked process.

Only S3's app, by path. Served by gunicorn (one gthread worker: moto keeps its buckets in that process's
memory) rather than moto's own werkzeug server: werkzeug answers every request with `Connection: close`, so
each request would pay a new TCP connection on both sides, which a client of real S3 keeps alive. Each
request holds a thread for its sleep, so up to `--threads` sleeps overlap as network waits would.
"""

import sys
from pathlib import Path

# The script's own folder (sys.path[0]) holds queue.py, which would shadow the standard library's queue for
# everything imported below (urllib3): the project root takes its place first.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import time
from collections.abc import Callable, Iterable

from gunicorn.app.base import BaseApplication
from moto.moto_server.werkzeug_app import create_backend_app


def with_latency(app: Callable, seconds: float) -> Callable:
    """The WSGI app `app`, answering every request `seconds` later."""

    def delayed(environ: dict, start_response: Callable) -> Iterable[bytes]:
        time.sleep(seconds)
        return app(environ, start_response)

    return delayed


class _Server(BaseApplication):
    def __init__(self, app: Callable, options: dict) -> None:
        self.app, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        return self.app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="sleep before every request")
    parser.add_argument("--threads", type=int, default=64, help="requests served at once")
    args = parser.parse_args()
    # S3's app alone, addressed by path (as the project's clients do): moto's dispatcher over all its services
    # looks on disk for every service module on every request, more than half of moto's CPU per GET.
    app = create_backend_app("s3")
    if args.latency_ms > 0:
        app = with_latency(app, args.latency_ms / 1000)
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": args.threads,
        "keepalive": 60,  # idle seconds a connection stays open, as S3 keeps them
        "timeout": 600,
        "graceful_timeout": 2,
        "loglevel": "warning",
    }
    _Server(app, options).run()


if __name__ == "__main__":
    main()
