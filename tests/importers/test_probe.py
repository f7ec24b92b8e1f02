"""Probing images in S3 over real HTTP (moto's server on loopback): what is read, how often, and how fast."""

import io
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from PIL import Image

from core.s3_clients import TRANSIENT_S3_ERRORS, s3_client_config
from datasets.image_checks import HEAD_BYTES, ImageInfo
from importers.probe import probe_many, probe_object
from tests.fixtures.s3 import free_port

pytestmark = pytest.mark.s3

# --- images -------------------------------------------------------------------------------------------------


def png_bytes(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(
    width: int, height: int, *, orientation: int | None = None, icc_size: int = 0, noise: bool = False
) -> bytes:
    """A JPEG; with `noise`, one that barely compresses (a photo-sized file of several MB at 2400x1800)."""
    options = {}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif
    if icc_size:
        options["icc_profile"] = os.urandom(icc_size)  # Pillow splits it over APP2 segments before the SOF
    if noise:
        img = Image.merge("RGB", [Image.effect_noise((width, height), 120) for _ in range(3)])
    else:
        img = Image.new("RGB", (width, height), (200, 80, 40))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, **options)
    return out.getvalue()


# --- a client like the importer's, and what it sends ----------------------------------------------------------


@pytest.fixture
def client(s3):
    return boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1", config=s3_client_config(16))


@dataclass
class Traffic:
    """GetObject requests as the client sent them (one per attempt) and the body sizes S3 answered with."""

    ranges: list[str] = field(default_factory=list)
    body_sizes: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def gets(self) -> int:
        return len(self.ranges)

    @property
    def bytes_read(self) -> int:
        return sum(self.body_sizes)


def record_traffic(client) -> Traffic:
    traffic = Traffic()

    def before_send(request, **kwargs):
        with traffic.lock:
            traffic.ranges.append(request.headers.get("Range", b"").decode())
            traffic.in_flight += 1
            traffic.max_in_flight = max(traffic.max_in_flight, traffic.in_flight)

    def after_call(parsed, **kwargs):
        with traffic.lock:
            traffic.body_sizes.append(parsed.get("ContentLength", 0))
            traffic.in_flight -= 1

    client.meta.events.register("before-send.s3.GetObject", before_send)
    client.meta.events.register("after-call.s3.GetObject", after_call)
    return traffic


def add_latency(client, seconds: float) -> None:
    """Every request waits as if it crossed a real network (the sleep releases the GIL, like socket waits)."""
    client.meta.events.register("before-send.s3", lambda **kwargs: time.sleep(seconds))


class _CannedBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs):
        yield self.data


def answer_get_with(client, status: int, code: str) -> None:
    """S3 answers every GetObject with this error (moto does not enforce permissions)."""
    xml = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>no</Message></Error>"

    def canned(request, **kwargs):
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _CannedBody(xml.encode()))

    client.meta.events.register("before-send.s3.GetObject", canned)


# --- one object ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected_format"),
    [(png_bytes(300, 200), "PNG"), (jpeg_bytes(300, 200), "JPEG")],
    ids=["png", "jpeg"],
)
def test_an_image_is_probed_with_one_ranged_get(s3, client, body, expected_format):
    s3.put("photos/a.img", body)
    traffic = record_traffic(client)

    result = probe_object(client, s3.bucket, "photos/a.img")

    assert result == type(result)("photos/a.img", ImageInfo(expected_format, 300, 200, 1, len(body)))
    assert traffic.ranges == ["bytes=0-65535"]
    assert traffic.bytes_read == len(body)  # smaller than the range: it comes back whole


def test_a_large_jpeg_is_not_downloaded_whole(s3, client):
    body = jpeg_bytes(2400, 1800, noise=True)
    s3.put("big.jpg", body)
    traffic = record_traffic(client)

    result = probe_object(client, s3.bucket, "big.jpg", size=len(body))

    assert len(body) > 3 * 2**20
    assert result.info == ImageInfo("JPEG", 2400, 1800, 1, len(body))
    assert (traffic.gets, traffic.bytes_read) == (1, HEAD_BYTES)


def test_a_jpeg_header_past_a_big_icc_profile_takes_a_second_ranged_get(s3, client):
    body = jpeg_bytes(640, 480, icc_size=100 * 1024, noise=True)
    s3.put("icc.jpg", body)
    traffic = record_traffic(client)

    result = probe_object(client, s3.bucket, "icc.jpg")

    assert result.info == ImageInfo("JPEG", 640, 480, 1, len(body))
    assert traffic.ranges == ["bytes=0-65535", "bytes=65536-131071"]
    assert len(body) > 3 * traffic.bytes_read


def test_a_server_that_ignores_ranges_is_read_only_as_far_as_the_header(s3, client):
    body = jpeg_bytes(640, 480, icc_size=100 * 1024, noise=True)
    s3.put("icc.jpg", body)

    def drop_range(request, **kwargs):
        # Moto does not check signatures: without the (signed) Range header it answers 200 with the whole object.
        del request.headers["Range"]

    client.meta.events.register("before-send.s3.GetObject", drop_range)
    traffic = record_traffic(client)

    result = probe_object(client, s3.bucket, "icc.jpg")

    assert result.info == ImageInfo("JPEG", 640, 480, 1, len(body))
    assert traffic.body_sizes == [len(body), len(body)]  # sent, but only the first 64 KiB, then 128 KiB, read


def test_the_exif_orientation_is_recorded(s3, client):
    s3.put("rotated.jpg", jpeg_bytes(400, 300, orientation=6))

    result = probe_object(client, s3.bucket, "rotated.jpg")

    assert (result.info.width, result.info.height, result.info.orientation) == (400, 300, 6)


def test_a_text_file_named_jpg_is_an_unsupported_format(s3, client):
    s3.put("notes.jpg", b"shopping list: milk, eggs\n")

    result = probe_object(client, s3.bucket, "notes.jpg", has_boxes=True)

    assert (result.info, result.code, result.manifest_code) == (None, "unsupported_format", "ERROR_INVALID_IMAGE")
    assert result.message.startswith(f"s3://{s3.bucket}/notes.jpg: the file is not a recognised image")


@pytest.mark.parametrize(
    ("has_boxes", "manifest_code"),
    [(True, "ERROR_INVALID_IMAGE_DIMENSION"), (False, "ERROR_INVALID_IMAGE")],
)
def test_a_too_small_image_gets_the_dimension_code_only_on_box_lines(s3, client, has_boxes, manifest_code):
    s3.put("tiny.png", png_bytes(32, 32))

    result = probe_object(client, s3.bucket, "tiny.png", has_boxes=has_boxes)

    assert (result.code, result.manifest_code) == ("image_too_small", manifest_code)
    assert result.message == f"s3://{s3.bucket}/tiny.png: the image is 32x32 px; each side must be 64-4096 px"


def test_a_png_cut_inside_its_header_is_corrupt(s3, client):
    s3.put("cut.png", png_bytes(300, 200)[:20])

    result = probe_object(client, s3.bucket, "cut.png")

    assert (result.code, result.manifest_code) == ("corrupt_image", "ERROR_INVALID_IMAGE")


def test_a_jpeg_cut_inside_a_long_header_is_corrupt_and_read_only_to_its_end(s3, client):
    body = jpeg_bytes(640, 480, icc_size=100 * 1024)[: 80 * 1024]
    s3.put("cut.jpg", body)
    traffic = record_traffic(client)

    result = probe_object(client, s3.bucket, "cut.jpg")

    assert result.code == "corrupt_image"
    assert traffic.ranges == ["bytes=0-65535", "bytes=65536-81919"]
    assert traffic.bytes_read == len(body)


@pytest.mark.parametrize("size", [None, 0], ids=["size-unknown", "size-listed"])
def test_an_empty_object_is_an_empty_file(s3, client, size):
    s3.put("empty.jpg", b"")
    traffic = record_traffic(client)

    result = probe_object(client, s3.bucket, "empty.jpg", size=size)

    assert (result.code, result.manifest_code) == ("empty_file", "ERROR_INVALID_IMAGE")
    assert traffic.gets == (1 if size is None else 0)  # S3 answers a range of an empty object with 416


def test_a_missing_key_is_not_found(s3, client):
    result = probe_object(client, s3.bucket, "gone.jpg")

    assert (result.info, result.code, result.manifest_code) == (None, "not_found", "ERROR_INVALID_IMAGE")
    assert result.message.startswith(f"s3://{s3.bucket}/gone.jpg: the object does not exist")


def test_a_16_mb_object_is_refused_from_the_listing_without_any_get(s3, client):
    s3.put("huge.jpg", jpeg_bytes(300, 200) + bytes(16 * 2**20))
    (listed,) = s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]
    traffic = record_traffic(client)

    from_listing = probe_object(client, s3.bucket, "huge.jpg", size=listed["Size"])
    unlisted = probe_object(client, s3.bucket, "huge.jpg")

    assert from_listing.code == unlisted.code == "file_too_large"
    assert "MiB" in from_listing.message
    # Without the listing's size, the first ranged GET's Content-Range tells it: still no full download.
    assert (traffic.gets, traffic.bytes_read) == (1, HEAD_BYTES)


@pytest.mark.parametrize(
    ("status", "s3_code", "code"),
    [(403, "AccessDenied", "access_denied"), (404, "NoSuchKey", "not_found"), (400, "InvalidRequest", "read_failed")],
)
def test_s3_answers_are_results_not_exceptions(s3, status, s3_code, code):
    no_retries = s3_client_config(4).merge(Config(retries={"mode": "standard", "max_attempts": 1}))
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1", config=no_retries)
    answer_get_with(client, status, s3_code)

    result = probe_object(client, s3.bucket, "a.jpg")

    assert (result.info, result.code, result.manifest_code) == (None, code, "ERROR_INVALID_IMAGE")
    assert s3_code in result.message


@pytest.mark.parametrize(
    ("status", "s3_code"), [(500, "InternalError"), (503, "SlowDown"), (503, "ServiceUnavailable"), (429, "")]
)
def test_an_s3_outage_answer_raises_instead_of_judging_the_image(s3, status, s3_code):
    no_retries = s3_client_config(4).merge(Config(retries={"mode": "standard", "max_attempts": 1}))
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1", config=no_retries)
    answer_get_with(client, status, s3_code)

    with pytest.raises(TRANSIENT_S3_ERRORS):
        probe_object(client, s3.bucket, "a.jpg")


def test_an_unreachable_endpoint_raises_instead_of_judging_the_image(s3):
    no_retries = s3_client_config(4).merge(Config(retries={"mode": "standard", "max_attempts": 1}))
    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1", config=no_retries
    )

    with pytest.raises(EndpointConnectionError):
        probe_object(client, s3.bucket, "a.jpg")
    with pytest.raises(EndpointConnectionError):  # probe_many does not turn it into a result either
        list(probe_many(client, s3.bucket, [("a.jpg", None), ("b.jpg", None)], concurrency=2))


def test_an_object_replaced_between_two_ranged_gets_is_a_read_failure(s3, client):
    s3.put("icc.jpg", jpeg_bytes(640, 480, icc_size=100 * 1024))
    client.meta.events.register(
        "after-call.s3.GetObject", lambda **kwargs: s3.put("icc.jpg", jpeg_bytes(640, 480, icc_size=90 * 1024))
    )

    result = probe_object(client, s3.bucket, "icc.jpg")

    assert (result.code, result.message) == (
        "read_failed",
        f"s3://{s3.bucket}/icc.jpg: the object changed while it was being read",
    )


# --- many objects -------------------------------------------------------------------------------------------------


def test_probe_many_gives_one_result_per_key(s3, client):
    bodies = {"png": png_bytes(120, 90), "jpg": jpeg_bytes(90, 120), "tiny": png_bytes(16, 16), "txt": b"not an image"}
    keys = [f"{'boxed' if i % 2 else 'plain'}/{i:03}.{kind}" for i in range(50) for kind in bodies]
    for key in keys:
        s3.put(key, bodies[key.rpartition(".")[2]])
    missing = [f"missing/{i}.jpg" for i in range(10)]
    items = [(key, len(bodies[key.rpartition(".")[2]])) for key in keys] + [(key, None) for key in missing]

    results = list(probe_many(client, s3.bucket, items, has_boxes=lambda key: key.startswith("boxed/")))

    assert Counter(result.key for result in results) == Counter(key for key, _ in items)
    by_key = {result.key: result for result in results}
    assert all(by_key[key].info for key in keys if key.endswith((".png", ".jpg")))
    assert {by_key[key].code for key in keys if key.endswith(".txt")} == {"unsupported_format"}
    assert {by_key[key].code for key in missing} == {"not_found"}
    tiny = Counter(by_key[key].manifest_code for key in keys if key.endswith(".tiny"))
    assert tiny == Counter({"ERROR_INVALID_IMAGE_DIMENSION": 25, "ERROR_INVALID_IMAGE": 25})


def test_probe_many_pulls_keys_only_as_probes_finish(s3, client):
    s3.put("a.png", png_bytes(100, 100))
    traffic = record_traffic(client)
    add_latency(client, 0.01)
    pulled = 0

    def items():
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield "a.png", None

    backlogs = []
    for received, result in enumerate(probe_many(client, s3.bucket, items(), concurrency=4)):
        backlogs.append(pulled - received)
        assert result.info

    assert len(backlogs) == 100
    assert backlogs[0] < 100  # not consumed up front
    assert max(backlogs) <= 2 * 4 + 1  # the queued and running probes, and the item in hand
    assert traffic.max_in_flight <= 4


def test_closing_probe_many_early_stops_pulling_keys(s3, client):
    pulled = 0

    def items():
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield f"missing/{i}.jpg", None

    results = probe_many(client, s3.bucket, items(), concurrency=4)
    next(results)
    results.close()

    assert pulled <= 2 * 4 + 1


def test_an_exception_in_one_probe_does_not_stop_the_others(s3, client, caplog):
    s3.put("tiny.png", png_bytes(16, 16))

    def has_boxes(key):
        if key == "tiny-2":
            raise KeyError(key)
        return True

    results = list(probe_many(client, s3.bucket, [("tiny.png", None), ("tiny-2", None)], has_boxes=has_boxes))
    by_key = {result.key: result for result in results}

    assert by_key["tiny.png"].manifest_code == "ERROR_INVALID_IMAGE_DIMENSION"
    assert (by_key["tiny-2"].code, by_key["tiny-2"].manifest_code) == ("read_failed", "ERROR_INVALID_IMAGE")
    assert "KeyError" in by_key["tiny-2"].message
    assert "probing s3://groundwork-default/tiny-2 failed unexpectedly" in caplog.text


class InFlight:
    """Counts the requests waiting on the (simulated) network at once, and the most there ever were."""

    def __init__(self, client, latency_s: float) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()
        self.latency_s = latency_s
        client.meta.events.register("before-send.s3", self.wait)

    def wait(self, **kwargs) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.latency_s)
        with self.lock:
            self.now -= 1


def test_probing_overlaps_its_requests_up_to_the_bound_and_one_at_a_time_does_not(s3, client):
    # What it gains in time is measured by bench/probe.py; here: that the waits really overlap.
    for i in range(32):
        s3.put(f"photos/{i}.jpg", jpeg_bytes(200, 150))
    items = [(f"photos/{i}.jpg", None) for i in range(32)]
    in_flight = InFlight(client, 0.05)

    sequential = list(probe_many(client, s3.bucket, items, concurrency=1))
    assert in_flight.peak == 1
    parallel = list(probe_many(client, s3.bucket, items, concurrency=16))

    # Bounded by the concurrency asked for; near it, since every wait is 50 ms (a thread starting late lowers it).
    assert 8 <= in_flight.peak <= 16, in_flight.peak
    assert sorted(sequential, key=lambda r: r.key) == sorted(parallel, key=lambda r: r.key)
    assert all(result.info for result in parallel)


def test_the_client_config_pools_a_connection_per_thread(caplog):
    config = s3_client_config(32)

    assert config.max_pool_connections == 32
    assert (config.signature_version, config.s3["addressing_style"]) == ("s3v4", "path")
    assert config.retries == {"mode": "standard", "max_attempts": 4}
    assert config.connect_timeout <= 10
    assert config.read_timeout <= 60
    with pytest.raises(ValueError, match="at least 1"):
        s3_client_config(0)


def test_probe_many_warns_when_the_pool_is_smaller_than_the_threads(s3, caplog):
    default_client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")

    assert list(probe_many(default_client, s3.bucket, [], concurrency=16)) == []
    assert "probing with 16 threads over 10 pooled connections" in caplog.text
    with pytest.raises(ValueError, match="at least 1"):
        probe_many(default_client, s3.bucket, [], concurrency=0)
