"""moto's S3 server with a fixed delay before every request, run by the benches in a process of its own.

    .venv/bin/python bench/s3_server.py --port 5000 --latency-ms 20

moto on loopback answers in about a millisecond of its own CPU; real S3 takes tens of milliseconds to the first
byte of each answer, which is what the importers' parallel probing exists to hide. The delay is a sleep in a
WSGI middleware around moto's app; the server runs a thread per connection, so the sleeps of concurrent
requests overlap as network waits would, and moto's own CPU stays out of the benchmarked process's GIL.
"""

import sys
from pathlib import Path

# The script's own folder (sys.path[0]) holds queue.py, which would shadow the standard library's queue for
# everything imported below (urllib3): the project root takes its place first.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import logging
import signal
import time
from collections.abc import Callable, Iterable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def with_latency(app: Callable, seconds: float) -> Callable:
    """The WSGI app `app`, answering every request `seconds` later."""

    def delayed(environ: dict, start_response: Callable) -> Iterable[bytes]:
        time.sleep(seconds)
        return app(environ, start_response)

    return delayed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="sleep before every request")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = DomainDispatcherApplication(create_backend_app)
    if args.latency_ms > 0:
        app = with_latency(app, args.latency_ms / 1000)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
