"""Benchmark of the labeling queue through the real API on PostgreSQL, with many concurrent annotators.

    .venv/bin/python bench/queue.py --images 20000 --workers 50

Builds a dataset of `--images` entries directly in the database, creates `--workers` annotators in one team and
a classification job with `--per-image` workers per image through the API, starts gunicorn on a loopback port
and lets every annotator loop `POST /jobs/{id}/next/` + `POST /assignments/{id}/submit/` for `--seconds`, each
on its own keep-alive connection (threads spread over a few client processes, so the clients are not held by
one GIL). Then it checks, from what the clients were given, that no annotator got an image twice and no image
was answered more than `--per-image` times, how long after the last answer the consolidated results are all
in the dataset (written in batches by a `celery -A config worker` process started here, on `--broker-url`),
and measures lease-expiry handling: every live lease of a second job is moved past its expiry in the database
and the periodic reclaim is timed.

Prints progress on stderr and one final JSON line on stdout.
"""

import sys
from pathlib import Path

# the path, so the imports come after the path is set.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter

from bench.common import (
    ensure_database,
    free_port,
    log,
    machine_speed,
    setup_django,
    start_worker,
    stop_worker,
    wait_for_http,
    wait_serving,
)

LABELS = ["cat", "dog", "bird", "fish", "horse"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=50, help="concurrent annotators")
    parser.add_argument("--per-image", type=int, default=3, help="workers_per_image of the job")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the annotators work")
    parser.add_argument("--client-processes", type=int, default=5)
    parser.add_argument("--server-workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--server-threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/5"))
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/groundwork_bench_queue"),
    )
    return parser.parse_args()


def build(images: int, workers: int) -> dict:
    """A project with a manager, `workers` annotators (with API tokens) and a dataset of `images` entries."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from datasets.models import Image
    from datasets.services.datasets import dataset_create
    from datasets.services.stats import dataset_refresh_stats
    from projects.models import Membership, Role
    from projects.services import project_create

    users = get_user_model().objects
    manager = users.create_user("manager", password="bench-password")
    project = project_create(user=manager, name="Queue bench")
    dataset = dataset_create(project_id=project.pk, name="train", type="train", user=manager)
    annotators = users.bulk_create([users.model(username=f"annotator{i:03d}") for i in range(workers)])
    Membership.objects.bulk_create(Membership(project=project, user=u, role=Role.ANNOTATOR) for u in annotators)
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in annotators)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Image._meta.db_table} (dataset_id, source_ref, storage_name, width, height, format,
                    byte_size, orientation, thumbnail_name, errors, has_errors, is_labeled, updated_at, origin,
                    created_at)
                SELECT %s, 's3://bench-bucket/queue/' || lpad(n::text, 7, '0') || '.jpg', '', 1024, 768, 'JPEG',
                    200000, 1, '', '[]'::jsonb, false, false, now(), 'import', now()
                FROM generate_series(1, %s) n""",
            [dataset.pk, images],
        )
    dataset_refresh_stats(dataset_id=dataset.pk)
    manager_token = Token.objects.create(user=manager).key
    return {
        "project": project.pk,
        "dataset": dataset.pk,
        "manager_token": manager_token,
        "annotators": [u.username for u in annotators],
        "tokens": [t.key for t in tokens],
    }


def start_server(workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
         "--timeout", "600", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz/")
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise
    return server, port


class Client:
    """One annotator's keep-alive connection to the API."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        self.connection.request("POST", f"/api/v1{path}", body=json.dumps(body or {}), headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)


def annotator_loop(port: int, token: str, job: int, deadline: float, seed: int) -> dict:
    """next + submit until the deadline or until the queue has nothing left for this annotator."""
    client = Client(port, token)
    rng = random.Random(seed)
    images, pair_ms, errors = [], [], Counter()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status, task = client.post(f"/jobs/{job}/next/")
        if status == 204:
            break
        if status != 200:
            errors[f"next {status} {(task or {}).get('error', {}).get('code')}"] += 1
            continue
        status, answer = client.post(f"/assignments/{task['id']}/submit/", {"labels": [rng.choice(LABELS)]})
        if status not in (200, 201):
            errors[f"submit {status} {(answer or {}).get('error', {}).get('code')}"] += 1
            continue
        pair_ms.append((time.perf_counter() - started) * 1000)
        images.append(task["image"]["id"])
    return {"images": images, "pair_ms": pair_ms, "errors": dict(errors)}


def client_process(port: int, tokens: list[str], job: int, deadline_wall: float, queue: multiprocessing.Queue) -> None:
    """Run one thread per annotator; report each annotator's result."""
    deadline = time.monotonic() + (deadline_wall - time.time())
    results: list[dict] = [None] * len(tokens)

    def run(i: int, token: str) -> None:
        results[i] = annotator_loop(port, token, job, deadline, seed=i)

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def api(port: int, token: str, method: str, path: str, body: dict | None = None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    connection.request(method, f"/api/v1{path}", body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    data = json.loads(response.read() or b"null")
    if response.status >= 300:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data}")
    return data


def create_job(port: int, built: dict, *, name: str, per_image: int, time_limit: int) -> tuple[int, float]:
    started = time.perf_counter()
    job = api(
        port, built["manager_token"], "POST", f"/projects/{built['project']}/jobs/",
        {"name": name, "dataset": built["dataset"], "task_type": "classification", "labels": LABELS,
         "team": built["team"], "workers_per_image": per_image, "task_time_limit_s": time_limit,
         "lifetime_s": 86_400, "instructions": "Pick the animal."},
    )  # fmt: skip
    return job["id"], time.perf_counter() - started


def drive(port: int, built: dict, job: int, seconds: float, processes: int) -> list[dict]:
    tokens = built["tokens"]
    deadline_wall = time.time() + seconds
    queue: multiprocessing.Queue = multiprocessing.Queue()
    shares = [tokens[i::processes] for i in range(processes)]
    children = [
        multiprocessing.Process(target=client_process, args=(port, share, job, deadline_wall, queue))
        for share in shares
        if share
    ]
    for child in children:
        child.start()
    results = [result for _ in children for result in queue.get()]
    for child in children:
        child.join()
    return results


def check_assignments(results: list[dict], per_image: int) -> dict:
    """Double assignments seen by the clients: an image given twice to one annotator, or over its slots."""
    twice_to_one = sum(count - 1 for r in results for count in Counter(r["images"]).values() if count > 1)
    per_image_counts = Counter(image for r in results for image in r["images"])
    over_slots = sum(count - per_image for count in per_image_counts.values() if count > per_image)
    return {"double_assignments": twice_to_one + over_slots, "images_answered": len(per_image_counts)}


def time_lease_expiry(port: int, built: dict) -> dict:
    """Every annotator takes a lease on a second job; all leases are moved past expiry; the reclaim is timed."""
    from django.db import connection

    from labeling.models import Assignment
    from labeling.tasks import expire_leases

    job, _ = create_job(port, built, name="expiry", per_image=1, time_limit=600)
    for token in built["tokens"]:
        api(port, token, "POST", f"/jobs/{job}/next/")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Assignment._meta.db_table} SET expires_at = now() - interval '1 second' WHERE status = 'leased'"
        )
        expired = cursor.rowcount
    started = time.perf_counter()
    expire_leases()
    periodic_ms = (time.perf_counter() - started) * 1000
    progress = api(port, built["manager_token"], "GET", f"/jobs/{job}/")["progress"]
    if progress["in_progress"]:
        raise RuntimeError(f"leases still live after the reclaim: {progress}")
    # The same again, reclaimed by a worker asking for work rather than by the periodic task.
    for token in built["tokens"]:
        api(port, token, "POST", f"/jobs/{job}/next/")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Assignment._meta.db_table} SET expires_at = now() - interval '1 second' WHERE status = 'leased'"
        )
    started = time.perf_counter()
    api(port, built["tokens"][0], "POST", f"/jobs/{job}/next/")
    on_next_ms = (time.perf_counter() - started) * 1000
    return {
        "leases": expired,
        "periodic_reclaim_ms": round(periodic_ms, 1),
        "next_with_reclaim_ms": round(on_next_ms, 1),
    }


def wait_written(timeout_s: float = 300) -> dict:
    """Seconds from the end of the annotators' work until every complete result is in the dataset."""
    from labeling.models import Task, TaskStatus

    started = time.perf_counter()
    pending = Task.objects.filter(status=TaskStatus.COMPLETE, written_at__isnull=True)
    while pending.exists():
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"{pending.count()} results still unwritten after {timeout_s} s")
        time.sleep(0.05)
    return {
        "write_back_lag_s": round(time.perf_counter() - started, 2),
        "results_written": Task.objects.filter(written_at__isnull=False).count(),
    }


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url)
    os.environ["CELERY_BROKER_URL"] = args.broker_url
    setup_django(args.database_url)
    started = time.perf_counter()
    built = build(args.images, args.workers)
    log(f"built {args.images} images and {args.workers} annotators in {time.perf_counter() - started:.1f}s")
    log_path = ROOT / "var" / "bench-queue-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    worker = start_worker(dict(os.environ), log_path)
    wait_serving(worker, log_path)
    server, port = start_server(args.server_workers, args.server_threads)
    try:
        team = api(port, built["manager_token"], "POST", f"/projects/{built['project']}/teams/",
                   {"name": "annotators", "members": built["annotators"]})  # fmt: skip
        built["team"] = team["id"]
        job, create_s = create_job(port, built, name="animals", per_image=args.per_image, time_limit=600)
        log(f"job {job} with {args.images} images created in {create_s:.2f}s")
        started = time.perf_counter()
        results = drive(port, built, job, args.seconds, args.client_processes)
        elapsed = time.perf_counter() - started
        pairs = sum(len(r["images"]) for r in results)
        pair_ms = [ms for r in results for ms in r["pair_ms"]]
        errors = Counter()
        for r in results:
            errors.update(r["errors"])
        figures = {
            "machine": machine_speed(args.database_url),
            "images": args.images,
            "workers": args.workers,
            "workers_per_image": args.per_image,
            "server": f"gunicorn {args.server_workers} x gthread {args.server_threads}",
            "job_create_s": round(create_s, 2),
            "pairs": pairs,
            "pairs_per_s": round(pairs / elapsed, 1),
            "pair_ms": {
                "median": round(statistics.median(pair_ms), 1) if pair_ms else None,
                "p95": round(statistics.quantiles(pair_ms, n=20)[-1], 1) if len(pair_ms) > 1 else None,
            },
            "errors": dict(errors),
            **check_assignments(results, args.per_image),
            **wait_written(),
        }
        log(f"queue: {figures}")
        figures["lease_expiry"] = time_lease_expiry(port, built)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        stop_worker(worker)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
