"""Benchmark of probing images in S3 (importers.probe) against moto's S3 server over loopback HTTP.

    .venv/bin/python bench/probe.py --objects 2000 --latency-ms 20

Starts bench/s3_server.py (moto in its own process, answering every request `--latency-ms` late, as real S3's
time to first byte would), uploads small generated JPEG and PNG images (one in ten broken: text, too small,
or cut inside its header), lists them, then probes them all at concurrency 1 and at `--concurrency` (32),
in this process, without a database. Prints progress on stderr and one final JSON line on stdout.

`cpu_ms_per_object` is this process's CPU time per probed object in the parallel run (the prober and boto3;
one GIL runs it, so it is the floor of `parallel_s / objects` on any number of cores), and
`client_cpu_ms_per_object` the part spent inside get_object (boto3's own cost). `server_cpu_ms_per_object` is
moto's, which real S3 would not spend on this machine: on a machine with few cores it competes with the
prober for them.
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
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from PIL import Image

from bench.common import log, start_s3_server, stop_process, tree_cpu_s
from core.s3_clients import s3_client_config
from importers.probe import probe_many

BUCKET = "groundwork-bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the S3 server's delay before each answer")
    parser.add_argument("--concurrency", type=int, default=32, help="as IMPORT_PROBE_CONCURRENCY")
    return parser.parse_args()


def image_bytes(index: int, rng: random.Random) -> bytes:
    if index % 10 == 9:  # the broken tenth
        kind = index // 10 % 3
        if kind == 0:
            return b"this is not an image\n" * 4
        if kind == 1:
            return encode(Image.new("RGB", (32, 32), (1, 2, 3)), "PNG")
        return encode(Image.new("RGB", (200, 200), (1, 2, 3)), "JPEG", icc_profile=rng.randbytes(80_000))[:70_000]
    size = (rng.randint(64, 640), rng.randint(64, 640))
    img = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    return encode(img, "JPEG" if index % 2 else "PNG")


def encode(img: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    img.save(out, image_format, **options)
    return out.getvalue()


class Counters:
    """GetObject requests, body bytes, and the CPU time of the calling threads inside get_object (boto3's own
    cost, moto's excluded), counted from botocore's events."""

    def __init__(self, client) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.reset()
        client.meta.events.register("before-parameter-build.s3.GetObject", self.call_started)
        client.meta.events.register("before-send.s3.GetObject", self.before_send)
        client.meta.events.register("after-call.s3.GetObject", self.after_call)

    def call_started(self, **kwargs) -> None:
        self.local.cpu_started = time.thread_time()

    def before_send(self, **kwargs) -> None:
        with self.lock:
            self.gets += 1

    def after_call(self, parsed, **kwargs) -> None:
        cpu = time.thread_time() - self.local.cpu_started
        with self.lock:
            self.bytes_read += parsed.get("ContentLength", 0)
            self.client_cpu_s += cpu

    def reset(self) -> None:
        with self.lock:
            self.gets = self.bytes_read = 0
            self.client_cpu_s = 0.0


def timed_probe(client, items, concurrency: int) -> tuple[float, float, list]:
    started, cpu_started = time.perf_counter(), time.process_time()
    results = list(probe_many(client, BUCKET, items, concurrency=concurrency))
    return time.perf_counter() - started, time.process_time() - cpu_started, results


def main() -> None:
    args = parse_args()
    server, url = start_s3_server(latency_ms=args.latency_ms)
    try:
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=s3_client_config(args.concurrency),
        )
        client.create_bucket(Bucket=BUCKET)
        rng = random.Random(7)
        bodies = {f"photos/{i:06}.{'jpg' if i % 2 else 'png'}": image_bytes(i, rng) for i in range(args.objects)}
        log(f"uploading {len(bodies)} objects ({sum(map(len, bodies.values())) / 2**20:.1f} MiB)")
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(lambda kv: client.put_object(Bucket=BUCKET, Key=kv[0], Body=kv[1]), bodies.items()))
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        items = [(obj["Key"], obj["Size"]) for page in pages for obj in page.get("Contents", [])]

        counters = Counters(client)
        timed_probe(client, items[: 4 * args.concurrency], args.concurrency)  # warm up
        counters.reset()

        log(f"probing at concurrency 1 with {args.latency_ms:g} ms latency")
        sequential_s, _, sequential = timed_probe(client, items, 1)
        gets, bytes_read = counters.gets, counters.bytes_read
        log(f"probing at concurrency {args.concurrency}")
        counters.reset()
        server_cpu_started = tree_cpu_s(server.pid)
        parallel_s, parallel_cpu_s, parallel = timed_probe(client, items, args.concurrency)
        server_cpu_s = tree_cpu_s(server.pid) - server_cpu_started
        client_cpu_s = counters.client_cpu_s
    finally:
        stop_process(server)

    usable = sum(1 for result in parallel if result.info)
    log(f"{usable} usable, {len(parallel) - usable} refused; codes: {sorted({r.code for r in parallel if r.code})}")
    assert sorted(sequential, key=lambda r: r.key) == sorted(parallel, key=lambda r: r.key)
    n = len(items)
    print(
        json.dumps(
            {
                "objects": n,
                "sequential_s": round(sequential_s, 3),
                "parallel_s": round(parallel_s, 3),
                "speedup": round(sequential_s / parallel_s, 2),
                "gets_per_object": round(gets / n, 3),
                "bytes_read_per_object": round(bytes_read / n),
                "latency_ms": args.latency_ms,
                "concurrency": args.concurrency,
                "cpu_ms_per_object": round(parallel_cpu_s / n * 1000, 2),
                "client_cpu_ms_per_object": round(client_cpu_s / n * 1000, 2),
                "server_cpu_ms_per_object": round(server_cpu_s / n * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
