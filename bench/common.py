"""What the benchmarks share: a fresh PostgreSQL database, Django set up on it, a free port, a Celery worker,
the S3 server (bench/s3_server.py), the CPU time of a process tree, progress logging."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_database(url: str) -> None:
    """Drop and create the database named by `url` (a benchmark always starts from an empty one)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        # Refused while the server starts; a read that times out on a loaded machine is tried again too.
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s")


def machine_speed(database_url: str) -> dict:
    """Two fixed workloads timed on this machine (a pure Python loop, a PostgreSQL scan), printed with the
    figures so that runs on machines (or days) of different speed can be compared."""
    import psycopg

    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    python_s = time.perf_counter() - started
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("SELECT count(*) FROM generate_series(1, 2000000)").fetchone()
        postgres_s = time.perf_counter() - started
    return {"python_loop_5m_s": round(python_s, 2), "postgres_series_2m_s": round(postgres_s, 2)}


def start_worker(env: dict[str, str], log_path: Path, *, concurrency: int = 1) -> subprocess.Popen:
    """A `celery -A config worker` process (prefork, `concurrency` pool processes) in its own process group."""
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING", f"--concurrency={concurrency}",
        "--pool=prefork", "--without-mingle", "--without-gossip", "--without-heartbeat",
        f"--hostname=bench-{os.getpid()}@%h",
    ]  # fmt: skip
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_serving(worker: subprocess.Popen, log_path: Path) -> None:
    """Block until the worker has run a task through the broker."""
    from core.tasks import health_check

    result = health_check.delay()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"worker exited:\n{log_path.read_text()[-3000:]}")
        if result.ready():
            result.get(timeout=5)
            return
        time.sleep(0.2)
    raise SystemExit(f"worker did not serve within 120 s:\n{log_path.read_text()[-3000:]}")


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, *, threads: int = 4, log_path: Path | None = None
) -> subprocess.Popen:
    """gunicorn serving config.wsgi on 127.0.0.1:`port` (`workers` gthread workers of `threads` threads) in its own
    process group, its output (access errors, Django's logged tracebacks) appended to `log_path`; returned once
    /healthz/ answers."""
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--timeout", "120", "--graceful-timeout", "10", "--log-level", "warning",
    ]  # fmt: skip
    log_file = log_path.open("ab") if log_path else subprocess.DEVNULL
    try:
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        if log_path:
            log_file.close()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz/")
    except BaseException:
        stop_worker(server)
        raise
    return server


def start_s3_server(*, latency_ms: float) -> tuple[subprocess.Popen, str]:
    """Start bench/s3_server.py (moto, `latency_ms` before every answer) in its own process; return it and its
    endpoint URL once it answers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("s3_server.py")), "--port", str(port),
         "--latency-ms", str(latency_ms)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/", timeout_s=60)  # ListBuckets
    except RuntimeError:
        server.kill()
        raise
    return server, url


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds so far of the live processes of the tree under `root`."""
    return processes_cpu_s(process_tree(root))


def processes_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds so far of these processes (those still alive)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
