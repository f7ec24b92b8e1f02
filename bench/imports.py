"""Benchmark of the imports on PostgreSQL, against moto's S3 server in its own process.

    .venv/bin/python bench/imports.py --manifest-lines 250000
    .venv/bin/python bench/imports.py --folder-images 20000
    BENCH_PROFILE=1 .venv/bin/python bench/imports.py --manifest-lines 50000 --in-process

The S3 server is bench/s3_server.py: moto, answering every request `--s3-latency-ms` (default 20) late, as
real S3's time to first byte would; the figure is in the JSON as `s3_latency_ms`. Every request of a part
sees it (uploads, the bare listing, the import's listing and probes, the manifest's GET), so the ratios
compare like with like.

Manifest: generates a manifest (mixed classification and box lines, 50 labels), puts it on the S3 server and
imports it through the real path: the job is created by the service, its task travels through the broker
(Redis by default) to a `celery -A config worker` process started here (prefork, one pool process), which
writes into PostgreSQL. The figure is end-to-end lines/s for the entries: from the enqueue to the commit
of the last batch (seen on the job's checkpoint), with the CPU seconds of the worker and of its database
server process (PostgreSQL on this machine) over that time. The manifest's images do not exist, so probing is left
out: once the entries are in, the bench cancels the job, which stops at the first probing page. The
worker's peak RSS is sampled every 50 ms as the sum over its process tree (and the sum of the processes'
VmHWM, an upper bound). `--in-process` runs the service in this process instead (for BENCH_PROFILE=1).

Folder: puts N small PNG images under a prefix, times a bare paginated list_objects_v2 of the prefix, then
an S3 folder import in the worker (entries registered: until the listing is done on the job's checkpoint;
then probing, until the job ends), and probes a sample one image at a time (probe_many at concurrency 1, in
this process, no database writes) for comparison, scaled to all images. The bare listing and the sample are
timed before and after the import, and the faster run counts (the machine's load varies). The worker's CPU
seconds are given for each phase, and the S3 server's for the probing phase.

Prints progress on stderr and one final JSON line on stdout.
"""

import sys
from pathlib import Path

# The script's own folder (sys.path[0]) holds queue.py, which would shadow the standard library's queue for
# everything imported below (concurrent.futures, psycopg): the project root takes its place first.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse
import io
import json
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench.common import (
    ensure_database,
    log,
    machine_speed,
    process_tree,
    processes_cpu_s,
    start_s3_server,
    start_worker,
    stop_process,
    stop_worker,
    tree_cpu_s,
    wait_serving,
)

UPLOAD_THREADS = 32


def manifest_lines(count: int, bucket: str, labels: int) -> bytes:
    rng = random.Random(7)
    out = []
    for index in range(count):
        ref = f"s3://{bucket}/images/{index:07}.jpg"
        if index % 2:
            name = f"label-{rng.randrange(labels):03}"
            line = {
                "source-ref": ref,
                "cls": 0,
                "cls-metadata": {"class-name": name, "confidence": 0.9, "type": "groundtruth/image-classification",
                                 "human-annotated": "yes", "creation-date": "2024-03-01T10:15:00"},
            }  # fmt: skip
        else:
            ids = [rng.randrange(labels) for _ in range(2)]
            line = {
                "source-ref": ref,
                "box": {"image_size": [{"width": 1024, "height": 768, "depth": 3}],
                        "annotations": [{"class_id": i, "left": 10 + 50 * n, "top": 20, "width": 200, "height": 150}
                                        for n, i in enumerate(ids)]},
                "box-metadata": {"objects": [{"confidence": 0.9}] * len(ids),
                                 "class-map": {str(i): f"label-{i:03}" for i in ids},
                                 "type": "groundtruth/object-detection", "human-annotated": "yes",
                                 "creation-date": "2024-03-01T10:15:00"},
            }  # fmt: skip
        out.append(json.dumps(line))
    return ("\n".join(out) + "\n").encode()


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples the RSS of a process tree in a thread: the peak of the sum, and each process's VmHWM."""

    def __init__(self, root: int, every_s: float = 0.05) -> None:
        self.root, self.every_s = root, every_s
        self.peak_kb = 0
        self.hwm_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the tree's live processes so far."""
        return tree_cpu_s(self.root)

    def _run(self) -> None:
        pids = process_tree(self.root)
        rounds = 0
        while not self._stop.is_set():
            if rounds % 20 == 0:  # the pool may replace a process
                pids = process_tree(self.root)
            self.peak_kb = max(self.peak_kb, sum(status_kb(pid, "VmRSS") for pid in pids))
            for pid in pids:
                self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), status_kb(pid, "VmHWM"))
            rounds += 1
            time.sleep(self.every_s)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        return {
            "worker_peak_rss_mb": round(self.peak_kb / 1024, 1),
            "worker_sum_vmhwm_mb": round(sum(self.hwm_kb.values()) / 1024, 1),
        }


def database_cpu_s() -> float:
    """CPU seconds so far of the database's server processes other than this connection's (the worker's).

    Read from /proc, so only when PostgreSQL runs on this machine and its processes are readable (else 0)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return processes_cpu_s([pid for (pid,) in cursor.fetchall()])


def wait_job(job_id: int, done: Callable[[object], bool], timeout_s: float = 3600) -> object:
    from importers.models import ImportJob

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if done(job):
            return job
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} did not get there within {timeout_s} s")


def bench_manifest(args: argparse.Namespace, client: object, bucket: str, user: object, project: object) -> dict:
    from importers import manifest_source, services
    from importers.models import FINISHED_STATUSES

    body = manifest_lines(args.manifest_lines, bucket, args.labels)
    client.put_object(Bucket=bucket, Key="gt/output.manifest", Body=body)
    log(f"manifest: {args.manifest_lines} lines, {len(body) / 1e6:.1f} MB")
    source = {"kind": "manifest", "s3_uri": f"s3://{bucket}/gt/output.manifest"}
    if args.in_process:
        dataset, job = services.dataset_create_from_source(
            project_id=project.pk, name="imported", type="train", source=source, user=user
        )
        manifest_source.probe_job_entries = lambda *a, **k: None  # no images to probe
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(services.import_run, job_id=job.pk)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        else:
            services.import_run(job_id=job.pk)
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        dataset.refresh_from_db()
        return {
            "manifest_lines": args.manifest_lines,
            "status": job.status,
            "imported": job.imported,
            "seconds": round(seconds, 2),
            "lines_per_s": round(args.manifest_lines / seconds),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "s3_latency_ms": args.s3_latency_ms,
            "note": "service in this process (no worker), PostgreSQL, moto in its own process, no probing",
        }
    with args.sampler:
        cpu_before, database_before = args.sampler.cpu_s(), database_cpu_s()
        started = time.perf_counter()
        dataset, job = services.dataset_create_from_source(
            project_id=project.pk, name="imported", type="train", source=source, user=user
        )  # enqueued on commit (autocommit here: at once)
        written = wait_job(
            job.pk, lambda j: j.checkpoint.get("line", 0) >= args.manifest_lines or j.status in FINISHED_STATUSES
        )
        seconds = time.perf_counter() - started
        cpu_s = args.sampler.cpu_s() - cpu_before
        database_s = database_cpu_s() - database_before
        services.import_cancel(job_id=job.pk)  # stops at the first probing page (the images do not exist)
        final = wait_job(job.pk, lambda j: j.status in FINISHED_STATUSES)
    return {
        "manifest_lines": args.manifest_lines,
        "entries_written_status": written.status,
        "final_status": final.status,
        "seen": final.seen,
        "imported": final.imported,
        "failed": final.failed,
        "seconds": round(seconds, 2),
        "lines_per_s": round(args.manifest_lines / seconds),
        "worker_cpu_s": round(cpu_s, 2),
        "lines_per_worker_cpu_s": round(args.manifest_lines / cpu_s),
        "database_cpu_s": round(database_s, 2),
        **args.sampler.figures(),
        "s3_latency_ms": args.s3_latency_ms,
        "note": "Celery worker process (prefork, 1 pool process) on Redis, PostgreSQL, moto in its own process "
        "with s3_latency_ms before each answer; from enqueue to the last batch committed; probing left out (job "
        "canceled once the entries were in)",
    }


def png(index: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64 + index % 7, 64 + index % 5), (index % 256, 90, 160)).save(out, "PNG")
    return out.getvalue()


def bench_folder(args: argparse.Namespace, client: object, bucket: str, user: object, project: object) -> dict:
    from django.conf import settings

    from importers import services
    from importers.models import FINISHED_STATUSES
    from importers.probe import probe_many
    from projects.s3 import s3_client

    keys = [f"folder/class-{index % 10}/img-{index:06}.png" for index in range(args.folder_images)]
    bodies = [png(index) for index in range(20)]
    uploader = s3_client(max_pool_connections=UPLOAD_THREADS)  # the puts wait out the latency too
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(lambda k: uploader.put_object(Bucket=bucket, Key=k[1], Body=bodies[k[0] % 20]), enumerate(keys)))
    log(f"folder: {len(keys)} images put")
    sample = [(key, None) for key in random.Random(3).sample(keys, min(args.probe_sample, len(keys)))]

    def bare_listing() -> float:
        started, listed = time.perf_counter(), 0
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="folder/", PaginationConfig={"PageSize": 1000}
        ):
            listed += len(page.get("Contents", []))
        seconds = time.perf_counter() - started
        log(f"bare listing: {listed} keys in {seconds:.2f} s")
        return seconds

    def one_at_a_time() -> tuple[float, list]:
        started = time.perf_counter()
        results = list(probe_many(client, bucket, sample, concurrency=1))
        return (time.perf_counter() - started) / len(sample) * 1000, results

    # The references are timed before and after the import, and the faster run counts: a burst of load from
    # elsewhere on the machine during one of them would otherwise flatter the import.
    listings_s, one_at_a_time_ms = [bare_listing()], [one_at_a_time()[0]]
    source = {"kind": "s3_folder", "s3_uri": f"s3://{bucket}/folder/", "auto_label": True}
    with args.sampler:
        cpu_started = args.sampler.cpu_s()
        started = time.perf_counter()
        _, job = services.dataset_create_from_source(
            project_id=project.pk, name="folder", type="train", source=source, user=user
        )
        registered = wait_job(job.pk, lambda j: j.checkpoint.get("listing_done") or j.status in FINISHED_STATUSES)
        registered_s = time.perf_counter() - started
        cpu_registered, s3_cpu_registered = args.sampler.cpu_s(), tree_cpu_s(args.s3_server.pid)
        final = wait_job(job.pk, lambda j: j.status in FINISHED_STATUSES)
        total_s = time.perf_counter() - started
        cpu_ended, s3_cpu_ended = args.sampler.cpu_s(), tree_cpu_s(args.s3_server.pid)
    probing_s = total_s - registered_s
    probed = final.checkpoint.get("probed", 0)
    listings_s.append(bare_listing())
    ms, results = one_at_a_time()
    one_at_a_time_ms.append(ms)
    listing_s, one_at_a_time_s = min(listings_s), min(one_at_a_time_ms) * len(keys) / 1000
    return {
        "folder_images": len(keys),
        "registered_status": registered.status,
        "final_status": final.status,
        "imported": final.imported,
        "failed": final.failed,
        "bare_listing_s": round(listing_s, 2),
        "bare_listing_runs_s": [round(seconds, 2) for seconds in listings_s],
        "entries_registered_s": round(registered_s, 2),
        "registered_vs_listing": round(registered_s / listing_s, 2),
        "probed": probed,
        "probing_s": round(probing_s, 2),
        "probe_one_at_a_time_s_extrapolated": round(one_at_a_time_s, 2),
        "probe_one_at_a_time_ms_runs": [round(ms, 2) for ms in one_at_a_time_ms],
        "probe_sample": len(sample),
        "probe_sample_usable": sum(1 for r in results if r.info is not None),
        "probing_speedup": round(one_at_a_time_s / probing_s, 1),
        "worker_cpu_s_registering": round(cpu_registered - cpu_started, 2),
        "worker_cpu_s_probing": round(cpu_ended - cpu_registered, 2),
        "worker_cpu_ms_per_probe": round((cpu_ended - cpu_registered) / max(probed, 1) * 1000, 2),
        "s3_server_cpu_ms_per_probe": round((s3_cpu_ended - s3_cpu_registered) / max(probed, 1) * 1000, 2),
        **args.sampler.figures(),
        "s3_latency_ms": args.s3_latency_ms,
        "probe_concurrency": settings.IMPORT_PROBE_CONCURRENCY,
        "note": "Celery worker process on Redis, PostgreSQL, moto in its own process with s3_latency_ms before "
        "each answer; registered = from enqueue to the listing done on the job's checkpoint; probing = from there "
        "to the job's end; one at a time = probe_many(concurrency=1) in the bench process on a random sample, "
        "scaled to all images; bare listing and one at a time: the faster of a run before and one after the import",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest-lines", type=int, default=0)
    parser.add_argument("--folder-images", type=int, default=0)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--probe-sample", type=int, default=300, help="images probed one at a time")
    parser.add_argument("--in-process", action="store_true", help="run the manifest import in this process")
    parser.add_argument("--s3-latency-ms", type=float, default=20.0, help="the S3 server's delay before each answer")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/groundwork_bench_import"),
    )
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/4"))
    args = parser.parse_args()
    if not args.manifest_lines and not args.folder_images:
        args.manifest_lines = 250_000

    ensure_database(args.database_url)
    args.s3_server, s3_url = start_s3_server(latency_ms=args.s3_latency_ms)
    bucket = "bench-default"
    if not args.in_process:
        os.environ["CELERY_BROKER_URL"] = args.broker_url
        # A queue of its own: a test session's worker on the same Redis database must not take the bench's tasks.
        os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"bench-imports-{os.getpid()}"
    os.environ.update(
        DATABASE_URL=args.database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="bench-only",
        AWS_S3_ENDPOINT_URL=s3_url,
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        LOG_LEVEL="WARNING",
        DEBUG="0",  # as deployed: DEBUG keeps every query's SQL in memory
        ALLOWED_HOSTS="localhost",
        PYTHONUNBUFFERED="1",
    )
    worker = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model

        from config.celery import app
        from projects.s3 import s3_client
        from projects.services import project_create

        client = s3_client()
        client.create_bucket(Bucket=bucket)
        user = get_user_model().objects.create_user("bench")
        project = project_create(user=user, name="Bench")
        if not args.in_process:
            app.control.purge()
            log_path = ROOT / "var" / "bench-imports-worker.log"
            log_path.parent.mkdir(exist_ok=True)
            worker = start_worker(dict(os.environ), log_path)
            wait_serving(worker, log_path)
            args.sampler = RssSampler(worker.pid)
            log(f"worker {worker.pid} serving")
        result: dict = {"machine": machine_speed(args.database_url)}
        if args.manifest_lines:
            result["manifest"] = bench_manifest(args, client, bucket, user, project)
            log(json.dumps(result["manifest"]))
        if args.folder_images:
            args.sampler = RssSampler(worker.pid)
            result["folder"] = bench_folder(args, client, bucket, user, project)
            log(json.dumps(result["folder"]))
    finally:
        if worker is not None:
            stop_worker(worker)
        stop_process(args.s3_server)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
