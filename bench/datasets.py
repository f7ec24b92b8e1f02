"""Benchmark of the datasets API on a big dataset, on PostgreSQL, through a real HTTP server.

    .venv/bin/python bench/datasets.py --entries 250000

Builds a dataset directly in the database (about 1.5 labels and 1.5 boxes per entry, 50 labels), starts
gunicorn on a loopback port and measures: a page of 100 entries filtered by a label (median, p95), an
unfiltered page, the labels list, the manifest export (lines/s, the server's peak memory), a copy and a
distribute. Prints progress on stderr and one final JSON line on stdout.
"""

import sys
from pathlib import Path

# The script's own folder (sys.path[0]) holds queue.py, which would shadow the standard library's queue for
# everything imported below (concurrent.futures, psycopg): the project root takes its place first.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import time

from bench.common import ensure_database, free_port, log, machine_speed, setup_django


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=250_000)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="page requests to time")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/groundwork_bench"),
    )
    return parser.parse_args()


def build_dataset(entries: int, labels: int) -> dict:
    """Fill a dataset with set-based SQL; returns ids and credentials for the API."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from datasets.models import BoundingBox, Image, ImageLabel, Label
    from datasets.services.datasets import dataset_create
    from datasets.services.label_counts import labels_recount
    from datasets.services.stats import dataset_refresh_stats
    from projects.services import project_create

    user = get_user_model().objects.create_user("bench", password="bench-password")
    token = Token.objects.create(user=user).key
    project = project_create(user=user, name="Bench")
    dataset = dataset_create(project_id=project.pk, name="train", type="train", user=user)
    image, label = Image._meta.db_table, Label._meta.db_table
    link, box = ImageLabel._meta.db_table, BoundingBox._meta.db_table
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {label} (dataset_id, name, entry_count, bounding_box_count, created_at) "
            f"SELECT %s, 'label-' || lpad(n::text, 3, '0'), 0, 0, now() FROM generate_series(0, %s - 1) n",
            [dataset.pk, labels],
        )
        cursor.execute(f"SELECT min(id) FROM {label} WHERE dataset_id = %s", [dataset.pk])
        first_label = cursor.fetchone()[0]
        cursor.execute(
            f"""INSERT INTO {image} (dataset_id, source_ref, storage_name, width, height, format, byte_size,
                    orientation, thumbnail_name, errors, has_errors, is_labeled, updated_at, origin, created_at)
                SELECT %s, 's3://bench-bucket/images/' || lpad(n::text, 7, '0') || '.jpg', '', 1024, 768, 'JPEG',
                    200000, 1, '', CASE WHEN n %% 100 = 0 THEN '[{{"code": "ERROR_INVALID_BOUNDING_BOX",
                    "message": "annotation 1 outside the image"}}]'::jsonb ELSE '[]'::jsonb END, n %% 100 = 0,
                    n %% 20 <> 0, now(), 'import', now()
                FROM generate_series(1, %s) n""",
            [dataset.pk, entries],
        )
        cursor.execute(f"SELECT min(id) FROM {image} WHERE dataset_id = %s", [dataset.pk])
        first_image = cursor.fetchone()[0]
        # Every 20th entry is unlabeled; others get one or two image-level labels and one or two boxes.
        cursor.execute(
            f"""INSERT INTO {link} (image_id, label_id, origin, created_at)
                SELECT i.id, %(l0)s + (i.id - %(i0)s) %% %(labels)s, 'import', now() FROM {image} i
                WHERE i.dataset_id = %(ds)s AND (i.id - %(i0)s + 1) %% 20 <> 0
                UNION ALL
                SELECT i.id, %(l0)s + ((i.id - %(i0)s) * 7 + 3) %% %(labels)s, 'import', now() FROM {image} i
                WHERE i.dataset_id = %(ds)s AND (i.id - %(i0)s + 1) %% 20 <> 0 AND (i.id - %(i0)s) %% 2 = 0""",
            {"l0": first_label, "i0": first_image, "labels": labels, "ds": dataset.pk},
        )
        cursor.execute(
            f"""INSERT INTO {box} (image_id, label_id, "left", top, width, height, confidence, origin, created_at)
                SELECT i.id, %(l0)s + ((i.id - %(i0)s) * 3) %% %(labels)s, 10, 20, 300, 200, 0.9, 'import', now()
                FROM {image} i WHERE i.dataset_id = %(ds)s AND (i.id - %(i0)s + 1) %% 20 <> 0
                UNION ALL
                SELECT i.id, %(l0)s + ((i.id - %(i0)s) * 11 + 5) %% %(labels)s, 400, 300, 120, 90, 0.8, 'import', now()
                FROM {image} i WHERE i.dataset_id = %(ds)s AND (i.id - %(i0)s + 1) %% 20 <> 0
                    AND (i.id - %(i0)s) %% 2 = 1""",
            {"l0": first_label, "i0": first_image, "labels": labels, "ds": dataset.pk},
        )
    dataset_refresh_stats(dataset_id=dataset.pk)
    labels_recount(dataset_id=dataset.pk)
    with connection.cursor() as cursor:
        # The steady state of a table that autovacuum has seen (fresh rows would force heap visits).
        cursor.execute("VACUUM ANALYZE")
    dataset.refresh_from_db()
    log(f"built {dataset.total_entries} entries in {time.perf_counter() - started:.1f}s")
    return {"project": project.pk, "dataset": dataset.pk, "token": token, "user": user}


def start_server(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "600", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    import requests

    for _ in range(200):
        try:
            if requests.get(f"{base}/healthz/", timeout=5).status_code == 200:
                return server, base
        except (requests.ConnectionError, requests.Timeout):  # a loaded machine may answer the first one late
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


def worker_pid(server: subprocess.Popen) -> int:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return int(children[0])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def time_pages(session, base: str, dataset: int, requests_count: int, labels: int) -> dict:
    rng = random.Random(1)
    filtered, plain = [], []
    for _ in range(requests_count):
        name = f"label-{rng.randrange(labels):03}"
        started = time.perf_counter()
        response = session.get(f"{base}/api/v1/datasets/{dataset}/entries/?contains_labels={name}&page_size=100")
        filtered.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:200]
        assert len(response.json()["results"]) == 100
    url = f"{base}/api/v1/datasets/{dataset}/entries/?page_size=100"
    for _ in range(min(requests_count, 50)):
        started = time.perf_counter()
        body = session.get(url).json()
        plain.append((time.perf_counter() - started) * 1000)
        url = body["next"]
    started = time.perf_counter()
    labels_response = session.get(f"{base}/api/v1/datasets/{dataset}/labels/?page_size=500")
    labels_ms = (time.perf_counter() - started) * 1000
    assert labels_response.status_code == 200
    return {
        "page_filtered_by_label_ms": {
            "median": round(statistics.median(filtered), 1),
            "p95": round(statistics.quantiles(filtered, n=20)[18], 1),
        },
        "page_unfiltered_ms": {"median": round(statistics.median(plain), 1)},
        "labels_list_ms": round(labels_ms, 1),
    }


def time_export(session, base: str, dataset: int, server: subprocess.Popen) -> dict:
    pid = worker_pid(server)
    started = time.perf_counter()
    lines = 0
    with session.get(f"{base}/api/v1/datasets/{dataset}/manifest/", stream=True) as response:
        if response.status_code != 200:
            return {"status": response.status_code}
        for chunk in response.iter_content(chunk_size=1 << 20):  # counting, not splitting: the client stays cheap
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": round(seconds, 2),
        "lines_per_s": round(lines / seconds),
        "server_peak_rss_mb": round(peak_rss_mb(pid), 1),
    }


def time_copy_and_distribute(session, base: str, built: dict) -> dict:
    from datasets.services.copy import dataset_copy_entries
    from datasets.services.datasets import dataset_create

    target = dataset_create(project_id=built["project"], name="copy", type="train", user=built["user"])
    started = time.perf_counter()
    dataset_copy_entries(source_id=built["dataset"], target_id=target.pk, origin_id=None, user=built["user"])
    copy_s = time.perf_counter() - started
    log(f"copy: {copy_s:.1f}s")
    test = dataset_create(project_id=built["project"], name="test", type="test", user=built["user"])
    started = time.perf_counter()
    response = session.post(
        f"{base}/api/v1/projects/{built['project']}/distribute/",
        json={"training_dataset": target.pk, "test_dataset": test.pk, "seed": 1},
    )
    distribute_s = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    return {"copy_s": round(copy_s, 2), "distribute_s": round(distribute_s, 2), "moved": response.json()["moved"]}


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    built = build_dataset(args.entries, args.labels)
    server, base = start_server(args.database_url)
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {built['token']}"
    try:
        results = {"entries": args.entries, "labels": args.labels, "machine": machine_speed(args.database_url)}
        results.update(time_pages(session, base, built["dataset"], args.requests, args.labels))
        log(f"pages: {results['page_filtered_by_label_ms']}")
        results["export"] = time_export(session, base, built["dataset"], server)
        log(f"export: {results['export']}")
        results.update(time_copy_and_distribute(session, base, built))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
