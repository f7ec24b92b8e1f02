"""Load test: many concurrent API clients against gunicorn while a manifest import runs, then the invariants.

    .venv/bin/python bench/load.py                  # 50 clients for 60 s, 20,000 entries, a 50,000-line import
    .venv/bin/python bench/load.py --quick          # 10 clients for 10 s, 2,000 entries, a 5,000-line import

The setup users run: gunicorn (`--server-workers` gthread workers of `--server-threads` threads), S3 storage on
the moto S3 server (bench/s3_server.py, `--s3-latency-ms` before every answer) with signed image URLs, a
`celery -A config worker` process on Redis, PostgreSQL. A project holds a dataset of `--entries` entries (built
in SQL as bench/datasets.py does, its images in the project's drop folder of the server's bucket), a
classification job on it with `--per-image` workers per image, and a team of `--clients` annotators, one API
token each. When the clients start, the manager creates a second dataset of the project from a manifest of
`--manifest-lines` lines put in the drop folder (its images do not exist: probing flags them, the import
still succeeds).

Each client keeps one keep-alive connection and picks request kinds by weight: entry pages with filters
(a label, labeled, errors, a source-ref part, following the cursor), entry reads, PATCH of labels, PATCH of
boxes, label lists, a page of the dataset being imported, and next + submit on the job. Clients are threads
spread over `--client-processes` processes (so that one GIL does not hold them all).

Then, once the import has ended and the write-back has caught up, it checks: the import succeeded; every
acknowledged submit is a stored answer and every stored answer was acknowledged (counted once: each task's
answer count equals its submitted assignments); no slot is held twice (a task's `slots_taken` equals its live
assignments, never more than workers_per_image, one live assignment per task and worker, one lease per job
and worker, no assignment handed to two clients); both datasets' stats and label counts equal a recount
from the rows. Prints a table on stdout (and a JSON line after it); exits 1 if any invariant fails or any
answer was a 5xx. Server and worker logs are in $GROUNDWORK_VAR_DIR (default var/).
"""

import sys
from pathlib import Path

# The script's own folder (sys.path[0]) holds queue.py, which would shadow the standard library's queue for
# everything imported below (multiprocessing, psycopg): the project root takes its place first.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import http.client
import json
import multiprocessing
import os
import random
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit

from bench.common import (
    ensure_database,
    free_port,
    log,
    machine_speed,
    start_gunicorn,
    start_s3_server,
    start_worker,
    stop_process,
    stop_worker,
    tree_cpu_s,
    wait_serving,
)

BUCKET = "bench-load"
JOB_LABELS = ["label-000", "label-001", "label-002", "label-003", "label-004"]
# Request kinds and their weights; next + submit is one pick (two requests, timed apart).
MIX = {
    "entries_filtered": 20,
    "entry_read": 20,
    "patch_labels": 8,
    "patch_boxes": 7,
    "labels_list": 10,
    "entries_importing": 5,
    "next_submit": 30,
}
FIVE_XX_BODIES_KEPT = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 clients, 10 s, small dataset and import")
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (default 50, quick 10)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of the load (default 60, quick 10)")
    parser.add_argument("--entries", type=int, default=None, help="entries of the labeled dataset (20,000)")
    parser.add_argument("--manifest-lines", type=int, default=None, help="lines of the import (50,000)")
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument(
        "--mix",
        default=None,
        help=f"kind=weight,… replacing the default mix {','.join(f'{k}={w}' for k, w in MIX.items())}",
    )
    parser.add_argument("--per-image", type=int, default=2, help="workers_per_image of the job")
    parser.add_argument("--client-processes", type=int, default=None, help="default: one per 10 clients")
    parser.add_argument("--server-workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--server-threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--celery-concurrency", type=int, default=2, help="pool processes of the Celery worker")
    parser.add_argument("--s3-latency-ms", type=float, default=10.0, help="the S3 server's delay before each answer")
    parser.add_argument("--import-timeout-s", type=float, default=900, help="how long the import may take to end")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gw_load_bench"),
    )
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/10"))
    args = parser.parse_args()
    quick = args.quick
    defaults = {
        "clients": 10 if quick else 50,
        "seconds": 10.0 if quick else 60.0,
        "entries": 2_000 if quick else 20_000,
        "manifest_lines": 5_000 if quick else 50_000,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.mix is None:
        args.mix = dict(MIX)
    else:
        pairs = [item.split("=") for item in args.mix.split(",") if item]
        if any(len(pair) != 2 or pair[0] not in MIX for pair in pairs):
            parser.error(f"--mix: kind=weight pairs of {', '.join(MIX)}")
        args.mix = {kind: float(weight) for kind, weight in pairs}
    if args.client_processes is None:
        args.client_processes = max(1, min(5, args.clients // 10))
    return args


# --- setup ------------------------------------------------------------------------------------------


def build(args: argparse.Namespace) -> dict:
    """The labeled dataset (bench/datasets.py's build, its images moved into the drop folder), the annotators
    with tokens, the job's team."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from bench.datasets import build_dataset
    from datasets.models import Image
    from projects.models import Membership, Role

    built = build_dataset(args.entries, args.labels)
    drop = f"s3://{BUCKET}/projects/{built['project']}/images/"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Image._meta.db_table} SET source_ref = replace(source_ref, 's3://bench-bucket/images/', %s) "
            "WHERE dataset_id = %s",
            [drop, built["dataset"]],
        )
        cursor.execute(f"SELECT min(id), max(id) FROM {Image._meta.db_table} WHERE dataset_id = %s", [built["dataset"]])
        built["entry_ids"] = cursor.fetchone()
    users = get_user_model().objects
    annotators = users.bulk_create([users.model(username=f"annotator{i:03d}") for i in range(args.clients)])
    Membership.objects.bulk_create(
        Membership(project_id=built["project"], user=u, role=Role.ANNOTATOR) for u in annotators
    )
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in annotators)
    built["annotators"] = [u.username for u in annotators]
    built["annotator_ids"] = [u.pk for u in annotators]
    built["tokens"] = [t.key for t in tokens]
    built.pop("user")
    return built


def put_manifest(args: argparse.Namespace, project: int) -> str:
    """A manifest of `--manifest-lines` lines (bench/imports.py's), images under the drop folder; its s3 URI."""
    from bench.imports import manifest_lines
    from projects.s3 import s3_client

    body = manifest_lines(args.manifest_lines, BUCKET, args.labels)
    body = body.replace(f"s3://{BUCKET}/images/".encode(), f"s3://{BUCKET}/projects/{project}/incoming/".encode())
    key = f"projects/{project}/incoming.manifest"
    s3_client().put_object(Bucket=BUCKET, Key=key, Body=body)
    log(f"manifest: {args.manifest_lines} lines, {len(body) / 1e6:.1f} MB at s3://{BUCKET}/{key}")
    return f"s3://{BUCKET}/{key}"


def api(port: int, token: str, method: str, path: str, body: dict | None = None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    connection.request(method, f"/api/v1{path}", body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    data = json.loads(response.read() or b"null")
    connection.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data}")
    return data


def warm_up(port: int, token: str, built: dict, connections: int) -> None:
    """Requests of the read kinds on `connections` connections at once, so that every gunicorn worker has loaded
    its code and opened its database connection before the clock starts (none of it is counted)."""
    dataset, (low, _) = built["dataset"], built["entry_ids"]
    paths = [
        f"/api/v1/datasets/{dataset}/entries/?contains_labels=label-000&page_size=50",
        f"/api/v1/datasets/{dataset}/entries/{low}/",
        f"/api/v1/datasets/{dataset}/labels/?page_size=100",
    ]

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for path in paths * 2:
            connection.request("GET", path, headers={"Authorization": f"Token {token}"})
            connection.getresponse().read()
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- the clients ------------------------------------------------------------------------------------


class Client:
    """One annotator's keep-alive connection; every answer is timed and recorded under its kind."""

    def __init__(self, port: int, token: str, record: dict) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.record = record

    def call(self, kind: str, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        payload = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=payload, headers=self.headers)
            response = self.connection.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            # A dropped connection (a worker killed by its timeout, say) counts as an error of its own.
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            status, data = 599, f"{type(exc).__name__}: {exc}".encode()
        ms = (time.perf_counter() - started) * 1000
        self.record["ms"][kind].append(ms)
        self.record["status"][f"{kind} {status}"] += 1
        if status >= 500:
            self.record["five_xx"] += 1
            if len(self.record["five_xx_bodies"]) < FIVE_XX_BODIES_KEPT:
                self.record["five_xx_bodies"].append(f"{method} {path} {body} -> {status}: {data[:2000]!r}")
        try:
            parsed = json.loads(data) if data and status < 500 else None
        except ValueError:
            parsed = None
        return status, parsed


def client_loop(port: int, index: int, token: str, plan: dict, deadline: float) -> dict:
    record = {
        "ms": defaultdict(list),
        "status": Counter(),
        "five_xx": 0,
        "five_xx_bodies": [],
        "handed": [],  # (assignment id, image id) given to this client by next
        "acked": [],  # (assignment id, image id) whose submit answered 2xx
    }
    client = Client(port, token, record)
    rng = random.Random(index)
    kinds, weights = list(plan["mix"]), list(plan["mix"].values())
    dataset, importing, job = plan["dataset"], plan["importing"], plan["job"]
    low, high = plan["entry_ids"]
    base = "/api/v1"
    cursor_url: str | None = None
    labels = [f"label-{n:03}" for n in range(plan["labels"])]
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        if kind == "entries_filtered":
            if cursor_url and rng.random() < 0.5:  # the next page of the last list
                path = cursor_url
            else:
                query = rng.choice(
                    [
                        f"contains_labels={rng.choice(labels)}",
                        f"contains_labels={rng.choice(labels)},{rng.choice(labels)}&labeled=true",
                        "labeled=false",
                        "has_errors=true",
                        f"source_ref_contains={rng.randrange(100):02}",
                    ]
                )
                path = f"{base}/datasets/{dataset}/entries/?{query}&page_size=50"
            status, data = client.call(kind, "GET", path)
            cursor_url = None
            if status == 200 and data and data.get("next"):
                parts = urlsplit(data["next"])
                cursor_url = f"{parts.path}?{parts.query}"
        elif kind == "entry_read":
            client.call(kind, "GET", f"{base}/datasets/{dataset}/entries/{rng.randint(low, high)}/")
        elif kind == "patch_labels":
            names = rng.sample(labels, rng.randint(0, 2))
            client.call(
                kind, "PATCH", f"{base}/datasets/{dataset}/entries/{rng.randint(low, high)}/", {"labels": names}
            )
        elif kind == "patch_boxes":
            boxes = [
                {"label": rng.choice(labels), "left": 10 + 40 * n, "top": 20, "width": 100, "height": 80}
                for n in range(rng.randint(0, 3))
            ]
            client.call(kind, "PATCH", f"{base}/datasets/{dataset}/entries/{rng.randint(low, high)}/", {"boxes": boxes})
        elif kind == "labels_list":
            client.call(kind, "GET", f"{base}/datasets/{rng.choice([dataset, importing])}/labels/?page_size=100")
        elif kind == "entries_importing":
            client.call(kind, "GET", f"{base}/datasets/{importing}/entries/?page_size=50")
        else:
            status, task = client.call("next", "POST", f"{base}/jobs/{job}/next/")
            if status != 200 or not task:
                continue
            pair = (task["id"], task["image"]["id"])
            record["handed"].append(pair)
            status, _ = client.call(
                "submit", "POST", f"{base}/assignments/{task['id']}/submit/", {"labels": [rng.choice(JOB_LABELS)]}
            )
            if 200 <= status < 300:
                record["acked"].append(pair)
    record["ms"] = dict(record["ms"])
    record["status"] = dict(record["status"])
    return record


def client_process(port: int, share: list[tuple[int, str]], plan: dict, deadline_wall: float, queue) -> None:
    deadline = time.monotonic() + (deadline_wall - time.time())
    results: dict[int, dict] = {}

    def run(index: int, token: str) -> None:
        results[index] = client_loop(port, index, token, plan, deadline)

    threads = [threading.Thread(target=run, args=item) for item in share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def drive(port: int, tokens: list[str], plan: dict, seconds: float, processes: int) -> dict[int, dict]:
    deadline_wall = time.time() + seconds
    queue: multiprocessing.Queue = multiprocessing.Queue()
    indexed = list(enumerate(tokens))
    shares = [indexed[i::processes] for i in range(processes)]
    children = [
        multiprocessing.Process(target=client_process, args=(port, share, plan, deadline_wall, queue))
        for share in shares
        if share
    ]
    for child in children:
        child.start()
    results: dict[int, dict] = {}
    for _ in children:
        results.update(queue.get())
    for child in children:
        child.join()
    return results


# --- after the run ----------------------------------------------------------------------------------


def wait_import(job_id: int, timeout_s: float) -> tuple[object, float]:
    from importers.models import FINISHED_STATUSES, ImportJob

    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        job = ImportJob.objects.get(pk=job_id)
        if job.status in FINISHED_STATUSES:
            return job, time.monotonic() - started
        time.sleep(0.5)
    return ImportJob.objects.get(pk=job_id), time.monotonic() - started


def wait_written(timeout_s: float = 300) -> float:
    from labeling.models import Task, TaskStatus

    started = time.monotonic()
    pending = Task.objects.filter(status=TaskStatus.COMPLETE, written_at__isnull=True)
    while pending.exists() and time.monotonic() - started < timeout_s:
        time.sleep(0.2)
    return time.monotonic() - started


class WaitSampler:
    """What the database's active sessions wait on, sampled every `every_s` during the load (from
    pg_stat_activity): where the time of slow answers goes."""

    def __init__(self, database_url: str, every_s: float = 0.25) -> None:
        self.database_url, self.every_s = database_url, every_s
        self.waits: Counter = Counter()
        self.blocked: Counter = Counter()  # the statements that wait on a lock, their first words
        self.blockers: Counter = Counter()  # what the sessions they wait for are doing (state, statement)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'cpu'), wait_event_type = 'Lock', "
                    "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()"
                ).fetchall()
                self.waits.update(row[0] for row in rows)
                self.blocked.update(row[2] for row in rows if row[1])
                # The sessions holding what the waiters wait for (a waiter's blockers include the waiters queued
                # before it: those are left out). One "idle in transaction" holds its locks while its process works
                # in Python between statements.
                self.blockers.update(
                    f"{state}: {query}"
                    for state, query in conn.execute(
                        "SELECT b.state, left(regexp_replace(b.query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity w "
                        "CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid) "
                        "JOIN pg_stat_activity b ON b.pid = blocker.pid "
                        "WHERE w.datname = current_database() AND w.wait_event_type = 'Lock' "
                        "AND b.wait_event_type IS DISTINCT FROM 'Lock'"  # the holders, not the queue before w
                    ).fetchall()
                )
                self.samples += 1
                time.sleep(self.every_s)

    def __enter__(self) -> "WaitSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        """The mean number of active sessions in each wait, the most common first."""
        return {wait: round(n / max(self.samples, 1), 2) for wait, n in self.waits.most_common(8)}

    def blocked_statements(self) -> dict[str, float]:
        return {query: round(n / max(self.samples, 1), 2) for query, n in self.blocked.most_common(4)}

    def blocking_statements(self) -> dict[str, float]:
        return {query: round(n / max(self.samples, 1), 2) for query, n in self.blockers.most_common(4)}


def sql_one(query: str, params: list) -> object:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def check_answers(job: int, results: dict[int, dict]) -> list[str]:
    """Every acknowledged submit is a stored answer, every stored answer was acknowledged, each counted once."""
    from labeling.models import Assignment, AssignmentStatus, Task

    problems = []
    acked = [pair[0] for r in results.values() for pair in r["acked"]]
    stored = set(Assignment.objects.filter(job_id=job, status=AssignmentStatus.SUBMITTED).values_list("pk", flat=True))
    if len(acked) != len(set(acked)):
        problems.append(f"{len(acked) - len(set(acked))} submits acknowledged twice for one assignment")
    if set(acked) - stored:
        problems.append(f"{len(set(acked) - stored)} acknowledged submits not stored as answers")
    if stored - set(acked):
        problems.append(f"{len(stored - set(acked))} stored answers never acknowledged")
    task, assignment = Task._meta.db_table, Assignment._meta.db_table
    wrong = sql_one(
        f"""SELECT count(*) FROM {task} t WHERE t.job_id = %s AND t.answer_count <>
               (SELECT count(*) FROM {assignment} a WHERE a.task_id = t.id AND a.status = 'submitted')""",
        [job],
    )
    if wrong:
        problems.append(f"{wrong} tasks whose answer_count differs from their submitted assignments")
    return problems


def check_slots(job: int, per_image: int, results: dict[int, dict]) -> list[str]:
    """No slot held twice: from the rows, and from what the clients were handed."""
    from labeling.models import Assignment, Task

    task, assignment = Task._meta.db_table, Assignment._meta.db_table
    problems = []
    queries = {
        "tasks whose slots_taken differs from their live assignments": f"""
            SELECT count(*) FROM {task} t WHERE t.job_id = %s AND t.slots_taken <>
                (SELECT count(*) FROM {assignment} a WHERE a.task_id = t.id AND a.status IN ('leased', 'submitted'))""",
        "tasks with more live assignments than workers_per_image": f"""
            SELECT count(*) FROM (SELECT task_id FROM {assignment} WHERE job_id = %s
                AND status IN ('leased', 'submitted') GROUP BY task_id HAVING count(*) > {per_image}) x""",
        "(task, worker) pairs with two live assignments": f"""
            SELECT count(*) FROM (SELECT 1 FROM {assignment} WHERE job_id = %s AND status IN ('leased', 'submitted')
                GROUP BY task_id, worker_id HAVING count(*) > 1) x""",
        "workers holding two leases of the job": f"""
            SELECT count(*) FROM (SELECT 1 FROM {assignment} WHERE job_id = %s AND status = 'leased'
                GROUP BY worker_id HAVING count(*) > 1) x""",
    }
    for what, query in queries.items():
        count = sql_one(query, [job])
        if count:
            problems.append(f"{count} {what}")
    holders: dict[int, set[int]] = defaultdict(set)
    for index, r in results.items():
        for assignment_id, _ in r["handed"]:
            holders[assignment_id].add(index)
    shared = sum(1 for clients in holders.values() if len(clients) > 1)
    if shared:
        problems.append(f"{shared} assignments handed to two clients")
    per_image_acked = Counter(image for r in results.values() for _, image in r["acked"])
    over = sum(1 for count in per_image_acked.values() if count > per_image)
    if over:
        problems.append(f"{over} images acknowledged more than {per_image} times")
    twice = sum(len(r["acked"]) - len({image for _, image in r["acked"]}) for r in results.values())
    if twice:
        problems.append(f"{twice} images answered twice by one client")
    return problems


def check_counts(dataset_id: int) -> list[str]:
    """The dataset's stats, its labels' counts and its entries' is_labeled equal a recount from the rows (the
    checks of tests/fixtures/datasets.assert_counts_true)."""
    from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label
    from datasets.services.label_counts import true_counts

    dataset = Dataset.objects.get(pk=dataset_id)
    entries = Image.objects.filter(dataset=dataset)
    problems = []
    stored_stats = (dataset.total_entries, dataset.labeled_entries, dataset.error_entries, dataset.total_labels)
    real_stats = (
        entries.count(),
        entries.filter(is_labeled=True).count(),
        entries.filter(has_errors=True).count(),
        Label.objects.filter(dataset=dataset).count(),
    )
    if stored_stats != real_stats:
        problems.append(f"dataset {dataset_id} stats (total, labeled, errors, labels) {stored_stats} != {real_stats}")
    stored = {
        label.name: (label.entry_count, label.bounding_box_count) for label in Label.objects.filter(dataset=dataset)
    }
    real = true_counts(dataset_id=dataset_id)
    wrong = {name: (stored[name], real.get(name)) for name in stored if stored[name] != real.get(name)}
    if wrong:
        problems.append(
            f"dataset {dataset_id}: {len(wrong)} labels miscounted (stored, real): {dict(list(wrong.items())[:5])}"
        )
    flagged = set(entries.filter(is_labeled=True).values_list("pk", flat=True))
    labeled = set(ImageLabel.objects.filter(image__dataset=dataset).values_list("image_id", flat=True)) | set(
        BoundingBox.objects.filter(image__dataset=dataset).values_list("image_id", flat=True)
    )
    if flagged != labeled:
        problems.append(
            f"dataset {dataset_id}: is_labeled wrong on {len(flagged ^ labeled)} entries "
            f"({len(flagged - labeled)} flagged without labels, {len(labeled - flagged)} labeled unflagged)"
        )
    for model in (ImageLabel, BoundingBox):
        rows = model.objects.filter(image__dataset=dataset)
        if rows.exclude(label__dataset=dataset).exists() or rows.filter(label__isnull=True).exists():
            problems.append(f"dataset {dataset_id}: {model.__name__} points at a foreign or deleted label")
    return problems


# --- figures ----------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def figures_of(results: dict[int, dict], elapsed: float) -> dict:
    ms: dict[str, list[float]] = defaultdict(list)
    statuses: Counter = Counter()
    for r in results.values():
        for kind, values in r["ms"].items():
            ms[kind] += values
        statuses.update(r["status"])
    total = sum(len(values) for values in ms.values())
    kinds = {}
    for kind in [*MIX, "next", "submit"]:
        values = ms.get(kind)
        if not values:
            continue
        kinds[kind] = {
            "count": len(values),
            "per_s": round(len(values) / elapsed, 1),
            "p50_ms": round(percentile(values, 0.50), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "p99_ms": round(percentile(values, 0.99), 1),
            "max_ms": round(max(values), 1),
            "statuses": {key.split()[1]: n for key, n in sorted(statuses.items()) if key.split()[0] == kind},
        }
    return {
        "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        "kinds": kinds,
        "five_xx": sum(r["five_xx"] for r in results.values()),
        "five_xx_bodies": [body for r in results.values() for body in r["five_xx_bodies"]][:FIVE_XX_BODIES_KEPT],
        "submits_acknowledged": sum(len(r["acked"]) for r in results.values()),
    }


def print_table(setup: dict, figures: dict, invariants: dict[str, list[str]]) -> None:
    print(f"load: {setup['clients']} clients x {setup['seconds']:.0f} s, {setup['server']}, {setup['worker']}, S3 "
          f"moto +{setup['s3_latency_ms']:.0f} ms, {setup['entries']} entries, import of {setup['manifest_lines']} "
          f"lines during the load; machine {setup['machine']}")  # fmt: skip
    print(f"requests {figures['requests']} in {setup['elapsed_s']:.1f} s = {figures['requests_per_s']} req/s; "
          f"5xx: {figures['five_xx']}; submits acknowledged: {figures['submits_acknowledged']}")  # fmt: skip
    header = f"{'kind':<18} {'count':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses"
    print(header)
    print("-" * len(header))
    for kind, row in figures["kinds"].items():
        statuses = " ".join(f"{code}:{n}" for code, n in row["statuses"].items())
        print(f"{kind:<18} {row['count']:>7} {row['per_s']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} "
              f"{row['p99_ms']:>8} {row['max_ms']:>8}  {statuses}")  # fmt: skip
    imported = setup["import"]
    print(f"import: {imported['status']} in {imported['seconds']} s after the load began "
          f"(seen {imported['seen']}, imported {imported['imported']}, failed {imported['failed']}); "
          f"write-back caught up {setup['write_back_wait_s']} s after the import "
          f"({setup['tasks_complete']} tasks complete, {setup['tasks_written']} written)")  # fmt: skip
    cpu = setup["cpu_s_during_load"]
    per_request_ms = cpu["gunicorn"] * 1000 / max(figures["requests"], 1)
    print(f"CPU seconds during the load: gunicorn {cpu['gunicorn']} ({per_request_ms:.0f} ms per request), "
          f"celery worker {cpu['celery']}; mix {setup['mix']}")  # fmt: skip
    print(f"database sessions active during the load, mean per wait: {setup['database_waits']}")
    for query, mean in setup["database_lock_waiters"].items():
        print(f"    waiting on a lock, mean {mean}: {query}")
    for query, mean in setup["database_lock_blockers"].items():
        print(f"    blocking them, mean {mean}: {query}")
    for name, problems in invariants.items():
        print(f"invariant {name:<44} {'OK' if not problems else 'FAIL'}")
        for problem in problems:
            print(f"    {problem}")
    for body in figures["five_xx_bodies"]:
        print(f"5xx: {body}")


def main() -> None:
    args = parse_args()
    var_dir = Path(os.environ.get("GROUNDWORK_VAR_DIR", ROOT / "var"))
    (var_dir / "static").mkdir(parents=True, exist_ok=True)  # whitenoise warns at each start without it
    ensure_database(args.database_url)
    s3_server, s3_url = start_s3_server(latency_ms=args.s3_latency_ms)
    os.environ.update(
        DATABASE_URL=args.database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="bench-only",
        GROUNDWORK_VAR_DIR=str(var_dir),
        CELERY_BROKER_URL=args.broker_url,
        # A queue of its own: a test session's worker on the same Redis database must not take the bench's tasks.
        CELERY_TASK_DEFAULT_QUEUE=f"bench-load-{os.getpid()}",
        STORAGE_BACKEND="s3",
        AWS_S3_ENDPOINT_URL=s3_url,
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        LOG_LEVEL="WARNING",
        DEBUG="0",  # as deployed
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    worker = server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from projects.s3 import s3_client

        s3_client().create_bucket(Bucket=BUCKET)
        started = time.perf_counter()
        built = build(args)
        log(f"built {args.entries} entries, {args.clients} annotators in {time.perf_counter() - started:.1f}s")
        manifest_uri = put_manifest(args, built["project"])
        from django.db import connection

        connection.close()  # the client processes are forked: they must not share this connection
        worker_log, server_log = var_dir / "bench-load-worker.log", var_dir / "bench-load-gunicorn.log"
        for path in (worker_log, server_log):
            path.write_bytes(b"")
        worker = start_worker(dict(os.environ), worker_log, concurrency=args.celery_concurrency)
        wait_serving(worker, worker_log)
        port = free_port()
        server = start_gunicorn(
            dict(os.environ), port, args.server_workers, threads=args.server_threads, log_path=server_log
        )
        log(f"gunicorn on {port}, log {server_log}; worker log {worker_log}")
        manager = built["token"]
        team = api(port, manager, "POST", f"/projects/{built['project']}/teams/",
                   {"name": "annotators", "members": built["annotators"]})  # fmt: skip
        job = api(
            port, manager, "POST", f"/projects/{built['project']}/jobs/",
            {"name": "animals", "dataset": built["dataset"], "task_type": "classification", "labels": JOB_LABELS,
             "team": team["id"], "workers_per_image": args.per_image, "task_time_limit_s": 600,
             "lifetime_s": 86_400, "instructions": "Pick one."},
        )["id"]  # fmt: skip
        log(f"job {job} created")
        warm_up(port, manager, built, args.server_workers * args.server_threads)
        load_started = time.perf_counter()
        source = {"kind": "manifest", "s3_uri": manifest_uri}
        created = api(
            port, manager, "POST", f"/projects/{built['project']}/datasets/",
            {"name": "incoming", "type": "train", "source": source},
        )  # fmt: skip
        import_id = created["import"]["id"]
        plan = {
            "dataset": built["dataset"],
            "importing": created["id"],
            "job": job,
            "entry_ids": built["entry_ids"],
            "labels": args.labels,
            "mix": args.mix,
        }
        log(f"import {import_id} into dataset {created['id']} started; {args.clients} clients for {args.seconds}s")
        cpu_before = {"gunicorn": tree_cpu_s(server.pid), "celery": tree_cpu_s(worker.pid)}
        with WaitSampler(args.database_url) as sampler:
            results = drive(port, built["tokens"], plan, args.seconds, args.client_processes)
        cpu_s = {"gunicorn": tree_cpu_s(server.pid), "celery": tree_cpu_s(worker.pid)}
        cpu_s = {name: round(cpu_s[name] - cpu_before[name], 1) for name in cpu_s}
        elapsed = time.perf_counter() - load_started
        figures = figures_of(results, elapsed)
        log(f"load done: {figures['requests']} requests, {figures['five_xx']} 5xx; waiting for the import")
        imported, _ = wait_import(import_id, args.import_timeout_s)
        import_s = time.perf_counter() - load_started
        write_back_s = wait_written()
        from labeling.models import Task, TaskStatus

        invariants = {
            "import succeeded": [] if imported.status == "succeeded" else [f"import {import_id} {imported.status}"],
            "every acknowledged answer stored once": check_answers(job, results),
            "no slot held twice": check_slots(job, args.per_image, results),
            "labeled dataset: stats and label counts": check_counts(built["dataset"]),
            "imported dataset: stats and label counts": check_counts(created["id"]),
            "no 5xx": [f"{figures['five_xx']} answers 5xx"] if figures["five_xx"] else [],
        }
        setup = {
            "clients": args.clients,
            "seconds": args.seconds,
            "mix": args.mix,
            "elapsed_s": elapsed,
            "server": f"gunicorn {args.server_workers} x gthread {args.server_threads}",
            "worker": f"celery prefork {args.celery_concurrency}",
            "s3_latency_ms": args.s3_latency_ms,
            "entries": args.entries,
            "manifest_lines": args.manifest_lines,
            "machine": machine_speed(args.database_url),
            "import": {
                "status": imported.status,
                "seconds": round(import_s, 1),
                "seen": imported.seen,
                "imported": imported.imported,
                "failed": imported.failed,
            },
            "write_back_wait_s": round(write_back_s, 1),
            "tasks_complete": Task.objects.filter(job_id=job, status=TaskStatus.COMPLETE).count(),
            "tasks_written": Task.objects.filter(job_id=job, written_at__isnull=False).count(),
            "cpu_s_during_load": cpu_s,
            "database_waits": sampler.figures(),
            "database_lock_waiters": sampler.blocked_statements(),
            "database_lock_blockers": sampler.blocking_statements(),
        }
    finally:
        if server is not None:
            stop_worker(server)
        if worker is not None:
            stop_worker(worker)
        stop_process(s3_server)
    print_table(setup, figures, invariants)
    print(json.dumps({"setup": setup, **figures, "invariants": invariants}))
    if any(invariants.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
