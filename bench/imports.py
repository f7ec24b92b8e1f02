"""Benchmark of the manifest import on PostgreSQL, against an S3 server in its own process.

    .venv/bin/python bench/imports.py --manifest-lines 250000

Generates a manifest (mixed classification and box lines, 50 labels), puts it on moto's S3 server (started as
a separate process on loopback), and runs the import service in this process up to the moment every line is
written as an entry; probing the images is left out (measured by bench/probe.py). Prints progress on stderr
and one final JSON line: lines/s for the entries and this process's peak RSS.

Not yet here (issue 4): the run through a Celery worker, and the S3 folder import against a bare listing.
"""

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest-lines", type=int, default=250_000)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/groundwork_bench_imports"),
    )
    args = parser.parse_args()

    import psycopg

    name = args.database_url.rsplit("/", 1)[1]
    with psycopg.connect(args.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    bucket = "bench-default"
    os.environ.update(
        DATABASE_URL=args.database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY="bench-only",
        AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        LOG_LEVEL="WARNING",
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from importers import manifest_source, services
        from projects.s3 import s3_client
        from projects.services import project_create

        client = s3_client()
        for _ in range(100):
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:  # the server is still starting
                time.sleep(0.1)
        body = manifest_lines(args.manifest_lines, bucket, args.labels)
        client.put_object(Bucket=bucket, Key="gt/output.manifest", Body=body)
        log(f"manifest: {args.manifest_lines} lines, {len(body) / 1e6:.1f} MB")

        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user("bench")
        project = project_create(user=user, name="Bench")
        source = {"kind": "manifest", "s3_uri": f"s3://{bucket}/gt/output.manifest"}
        dataset, job = services.dataset_create_from_source(
            project_id=project.pk, name="imported", type="train", source=source, user=user
        )
        manifest_source.probe_job_entries = lambda *a, **k: None  # probing is measured by bench/probe.py
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(services.import_run, job_id=job.pk)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        else:
            services.import_run(job_id=job.pk)
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        dataset.refresh_from_db()
        result = {
            "manifest_lines": args.manifest_lines,
            "status": job.status,
            "entries": dataset.total_entries,
            "seconds": round(seconds, 2),
            "lines_per_s": round(args.manifest_lines / seconds),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "note": "service in-process, PostgreSQL, moto in its own process, probing excluded",
        }
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
