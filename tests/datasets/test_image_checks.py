import io
import os
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.errors import InvalidInput
from datasets import image_checks
from datasets.image_checks import (
    MAX_BYTES,
    ImageInfo,
    ImageRejected,
    NeedMoreBytes,
    check_image_file,
    display_size,
    make_thumbnail,
    probe_header,
    sniff_format,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


# --- image builders -----------------------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Incompressible pixels, so that a cut file loses image data rather than just its trailer."""
    return Image.frombytes(mode, size, os.urandom(size[0] * size[1] * Image.getmodebands(mode)))


def png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    return encode(Image.new(mode, size), "PNG")


def jpeg(size: tuple[int, int] = (120, 80), *, orientation: int | None = None, **params) -> bytes:
    img = params.pop("img", None) or noise(size)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif
    return encode(img, "JPEG", **params)


def png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", zlib.crc32(chunk_type + data))


def crafted_png(width: int, height: int, *, depth: int = 8, colour: int = 0, idat: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat or zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def compressible_bilevel_png(side: int) -> bytes:
    """A valid, decodable 1-bit PNG of side x side white-space pixels: a few KB on disk."""
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return crafted_png(side, side, depth=1, colour=0, idat=idat)


def check(data: bytes, **kwargs) -> ImageInfo:
    return check_image_file(io.BytesIO(data), **kwargs)


def rejected_code(data: bytes) -> str:
    with pytest.raises(ImageRejected) as excinfo:
        check(data)
    return excinfo.value.code


# --- sniffing and accepted images ---------------------------------------------------------------------------


def test_sniff_format_reads_magic_bytes_only():
    assert sniff_format(png((64, 64))[:8]) == "PNG"
    assert sniff_format(jpeg()[:3]) == "JPEG"
    assert sniff_format(b"\x89PN") is None
    assert sniff_format(b"GIF89a....") is None
    assert sniff_format(b"") is None


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"])
def test_png_of_every_common_mode_is_accepted(mode):
    data = png((100, 70), mode)
    assert check(data) == ImageInfo("PNG", 100, 70, 1, len(data))


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_jpeg_of_every_common_mode_is_accepted(mode):
    data = jpeg(img=Image.new(mode, (90, 120)))
    assert check(data) == ImageInfo("JPEG", 90, 120, 1, len(data))


def test_progressive_jpeg_is_accepted():
    data = jpeg((300, 200), progressive=True)
    assert check(data).width == 300


def test_check_leaves_the_file_at_its_start_whatever_the_outcome():
    good, bad = io.BytesIO(png((64, 64))), io.BytesIO(png((63, 64)))
    good.seek(10)
    check_image_file(good)
    with pytest.raises(ImageRejected):
        check_image_file(bad)
    assert good.tell() == 0
    assert bad.tell() == 0


def test_a_byte_size_that_is_not_the_files_is_a_caller_error():
    data = png((64, 64))
    assert check(data, byte_size=len(data)).byte_size == len(data)
    with pytest.raises(ValueError, match="byte_size"):
        check(data, byte_size=len(data) + 1)


# --- dimensions and aspect ratio ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(64, 64), (4096, 4096), (4096, 205), (64, 1280)])
def test_sides_from_64_to_4096_are_accepted(size):
    info = check(png(size, "1"))
    assert (info.width, info.height) == size


@pytest.mark.parametrize(
    ("size", "code"),
    [((63, 64), "image_too_small"), ((64, 63), "image_too_small"), ((4097, 4096), "image_too_large")],
)
def test_sides_outside_64_to_4096_are_refused(size, code):
    assert rejected_code(png(size, "1")) == code


def test_a_jpeg_one_pixel_too_tall_is_refused():
    assert rejected_code(jpeg(img=Image.new("L", (205, 4097)))) == "image_too_large"


def test_the_message_gives_the_figures_and_dimension_errors_map_to_the_manifest_codes():
    with pytest.raises(ImageRejected) as excinfo:
        probe_header(crafted_png(5000, 300))
    error = excinfo.value
    assert error.code == "image_too_large"
    assert error.message == "the image is 5000x300 px; each side must be 64-4096 px"
    assert error.manifest_code == "ERROR_INVALID_IMAGE_DIMENSION"
    assert error.manifest_code_for(has_boxes=True) == "ERROR_INVALID_IMAGE_DIMENSION"
    assert error.manifest_code_for(has_boxes=False) == "ERROR_INVALID_IMAGE"
    assert isinstance(error, InvalidInput)
    assert error.http_status == 400


@pytest.mark.parametrize("size", [(1280, 64), (64, 1280), (2000, 100)])
def test_an_aspect_ratio_of_20_to_1_is_accepted(size):
    assert check(png(size, "1")).width == size[0]


@pytest.mark.parametrize("size", [(1344, 64), (64, 1344), (1281, 64)])
def test_an_aspect_ratio_over_20_to_1_is_refused(size):
    with pytest.raises(ImageRejected) as excinfo:
        check(png(size, "1"))
    assert excinfo.value.code == "aspect_ratio"
    assert excinfo.value.manifest_code == "ERROR_INVALID_IMAGE"
    assert f"{size[0]}x{size[1]} px" in excinfo.value.message


# --- formats ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (encode(Image.new("RGB", (100, 100)), "GIF"), "GIF"),
        (encode(Image.new("RGB", (100, 100)), "WEBP"), "WebP"),
        (encode(Image.new("RGB", (100, 100)), "BMP"), "BMP"),
        (encode(Image.new("RGB", (100, 100)), "TIFF"), "TIFF"),
        (b"just some text, not a picture\n", "not a recognised image"),
    ],
    ids=["gif", "webp", "bmp", "tiff", "text"],
)
def test_other_formats_are_refused_even_when_named_jpg(tmp_path, content, named):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with path.open("rb") as fileobj, pytest.raises(ImageRejected) as excinfo:
        check_image_file(fileobj)
    assert excinfo.value.code == "unsupported_format"
    assert named in excinfo.value.message


def test_a_12_bit_jpeg_is_an_unsupported_format():
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 4] = 12  # sample precision
    with pytest.raises(ImageRejected, match="12-bit") as excinfo:
        probe_header(bytes(data))
    assert excinfo.value.code == "unsupported_format"


# --- damaged files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_truncated_file_passes_the_header_probe_but_not_the_full_check(fmt):
    data = encode(noise((200, 150)), fmt)
    cut = data[: len(data) * 2 // 3]
    assert probe_header(cut).width == 200
    with pytest.raises(ImageRejected, match="cannot be decoded") as excinfo:
        check(cut)
    assert excinfo.value.code == "corrupt_image"


def test_a_png_cut_inside_its_last_chunk_is_refused():
    data = encode(noise((100, 100)), "PNG")
    assert rejected_code(data[:-12]) == "corrupt_image"


def test_a_png_with_a_damaged_data_chunk_is_refused():
    data = bytearray(encode(noise((100, 100)), "PNG"))
    data[data.index(b"IDAT") + 50] ^= 0xFF
    assert rejected_code(bytes(data)) == "corrupt_image"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", b"a\x00b"),  # no IHDR first
        crafted_png(100, 100, depth=3, colour=2),  # RGB has no 3-bit depth
        crafted_png(0, 100),
        b"\xff\xd8\xff\xfe\x00\x04hi\xff\xd9",  # a JPEG that ends before any frame
    ],
    ids=["png-no-ihdr", "png-bad-depth", "png-zero-width", "jpeg-no-frame"],
)
def test_a_broken_header_is_a_corrupt_image(data):
    with pytest.raises(ImageRejected) as excinfo:
        probe_header(data, byte_size=len(data))
    assert excinfo.value.code == "corrupt_image"


def test_a_jpeg_with_two_frame_headers_is_refused():
    data = jpeg()
    sof = data.index(b"\xff\xc0")
    length = int.from_bytes(data[sof + 2 : sof + 4], "big")
    doubled = data[: sof + 2 + length] + data[sof : sof + 2 + length] + data[sof + 2 + length :]
    with pytest.raises(ImageRejected, match="two frame headers"):
        probe_header(doubled)


# --- sizes of files -----------------------------------------------------------------------------------------


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_a_16_mib_file_is_refused_before_a_byte_is_read():
    fileobj = CountingReader(png((64, 64)).ljust(16 * 1024 * 1024, b"\x00"))
    with pytest.raises(ImageRejected) as excinfo:
        check_image_file(fileobj)
    assert excinfo.value.code == "file_too_large"
    assert "16,777,216 bytes" in excinfo.value.message
    assert fileobj.bytes_read == 0
    assert fileobj.tell() == 0


def test_the_size_limit_is_15_mib_inclusive():
    head = png((64, 64))
    assert MAX_BYTES == 15 * 1024 * 1024
    assert probe_header(head, byte_size=MAX_BYTES).byte_size == MAX_BYTES
    with pytest.raises(ImageRejected) as excinfo:
        probe_header(head, byte_size=MAX_BYTES + 1)
    assert excinfo.value.code == "file_too_large"


def test_an_empty_file_is_refused():
    with pytest.raises(ImageRejected) as excinfo:
        check(b"")
    assert excinfo.value.code == "empty_file"
    with pytest.raises(ImageRejected, match="empty"):
        probe_header(b"", byte_size=0)
    with pytest.raises(NeedMoreBytes):
        probe_header(b"")  # nothing read yet, size unknown: not a verdict


# --- decompression bombs ------------------------------------------------------------------------------------


@pytest.fixture
def pillow_must_not_open(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Pillow was asked to open a file the header check should have refused")

    monkeypatch.setattr(image_checks.Image, "open", refuse)


@pytest.mark.parametrize(
    "data",
    [crafted_png(50_000, 50_000), compressible_bilevel_png(10_000)],
    ids=["declares-50000x50000", "valid-10000x10000-bilevel"],
)
@pytest.mark.usefixtures("pillow_must_not_open")
def test_a_decompression_bomb_is_refused_from_its_header(data):
    assert len(data) < 100_000
    tracemalloc.start()
    try:
        for attempt in (check, lambda data: make_thumbnail(io.BytesIO(data)), probe_header):
            with pytest.raises(ImageRejected) as excinfo:
                attempt(data)
            assert excinfo.value.code == "decompression_bomb"
            assert "refused without decoding" in excinfo.value.message
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024


BOMB_RSS_SCRIPT = """
import io, re
from PIL import Image
from datasets.image_checks import ImageRejected, check_image_file
from tests.datasets.test_image_checks import compressible_bilevel_png, crafted_png

def rss():
    # Peak RSS of this process in MiB. Not ru_maxrss: Linux carries the parent's peak across fork and exec.
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) // 1024

files = [crafted_png(50_000, 50_000), compressible_bilevel_png(10_000)]
before = rss()
for data in files:
    try:
        check_image_file(io.BytesIO(data))
    except ImageRejected:
        pass
after_checks = rss()
Image.new("L", (10_000, 10_000), 1).load()  # what decoding one of them costs: proves the probe can see it
print(after_checks - before, rss() - after_checks)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from Linux's /proc")
def test_refusing_a_bomb_does_not_grow_the_process():
    """Pillow allocates pixels in C, where tracemalloc cannot see them: measure the peak RSS of a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", BOMB_RSS_SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    checks_mib, decode_mib = map(int, result.stdout.split())
    assert decode_mib >= 90  # the probe works: decoding 100 Mpx would show
    assert checks_mib < 10


def test_a_png_text_chunk_that_expands_too_far_is_a_decompression_bomb():
    data = png((64, 64))
    ztxt = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * 3 * 1024 * 1024))
    idat = data.index(b"IDAT") - 4
    with pytest.raises(ImageRejected) as excinfo:
        check(data[:idat] + ztxt + data[idat:])
    assert excinfo.value.code == "decompression_bomb"


# --- partial headers ----------------------------------------------------------------------------------------


def test_the_first_32_bytes_of_a_png_are_enough():
    data = encode(noise((300, 200)), "PNG")
    assert probe_header(data[:32]) == ImageInfo("PNG", 300, 200, 1, None)
    with pytest.raises(NeedMoreBytes) as excinfo:
        probe_header(data[:20])
    assert excinfo.value.min_bytes <= 32


def test_a_jpeg_whose_frame_header_lies_past_the_head_needs_more_bytes():
    big_icc_profile = bytes(range(255)) * 402  # 100 KiB, no 0xFF: nothing in it looks like a marker
    data = jpeg((200, 100), orientation=6, icc_profile=big_icc_profile)
    assert data.index(b"\xff\xc0") > 100 * 1024
    with pytest.raises(NeedMoreBytes) as excinfo:
        probe_header(data[: 64 * 1024])
    assert 64 * 1024 < excinfo.value.min_bytes <= data.index(b"\xff\xc0") + 2

    head = data[: 64 * 1024]
    while True:  # what an S3 prober does: fetch again, at least min_bytes
        try:
            info = probe_header(head, byte_size=len(data))
            break
        except NeedMoreBytes as exc:
            head = data[: exc.min_bytes]
    assert info == ImageInfo("JPEG", 200, 100, 6, len(data))
    assert check(data) == info


def test_a_header_cut_by_the_end_of_the_file_is_corrupt_not_incomplete():
    data = jpeg((200, 100), icc_profile=os.urandom(100 * 1024))[: 80 * 1024]
    with pytest.raises(ImageRejected, match="ends inside its header"):
        probe_header(data, byte_size=len(data))
    assert rejected_code(data) == "corrupt_image"


def probe_or_need_more(head: bytes) -> ImageInfo | NeedMoreBytes:
    try:
        return probe_header(head)
    except NeedMoreBytes as exc:
        return exc


SAMPLES = {
    "png": encode(noise((80, 70)), "PNG"),
    "jpeg": jpeg((90, 70), orientation=8),
    "jpeg-icc": jpeg((90, 70), orientation=3, icc_profile=os.urandom(70_000)),
    "progressive": jpeg((70, 90), progressive=True),
}


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(SAMPLES)), fraction=st.floats(0, 1))
def test_a_prefix_gives_the_whole_files_answer_or_asks_for_more(name, fraction):
    data = SAMPLES[name]
    whole = probe_header(data)
    cut = int(len(data) * fraction)
    outcome = probe_or_need_more(data[:cut])
    if isinstance(outcome, NeedMoreBytes):
        assert cut < outcome.min_bytes <= len(data)
    else:
        assert outcome == whole


# --- orientation and thumbnails -----------------------------------------------------------------------------


def test_exif_orientation_is_recorded_and_the_limits_apply_to_stored_pixels():
    info = check(jpeg((1280, 64), orientation=6))
    assert (info.width, info.height, info.orientation) == (1280, 64, 6)
    assert display_size(info.width, info.height, info.orientation) == (64, 1280)


def test_an_invalid_or_missing_orientation_reads_as_1():
    assert check(jpeg(orientation=9)).orientation == 1
    assert check(jpeg()).orientation == 1


def test_png_orientation_is_ignored_as_rekognition_does():
    exif = Image.Exif()
    exif[0x0112] = 6
    assert check(encode(Image.new("RGB", (100, 80)), "PNG", exif=exif)).orientation == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_display_size_swaps_sides_for_orientations_5_to_8(orientation):
    assert display_size(40, 30, orientation) == ((30, 40) if orientation >= 5 else (40, 30))


def test_display_size_refuses_an_orientation_outside_1_to_8():
    with pytest.raises(ValueError, match="1-8"):
        display_size(40, 30, 0)


def red_left_blue_right(size: tuple[int, int]) -> Image.Image:
    img = Image.new("RGB", size, (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return img


def test_the_thumbnail_of_an_orientation_6_jpeg_is_upright():
    data = jpeg(img=red_left_blue_right((400, 200)), orientation=6)
    fileobj = io.BytesIO(data)
    thumb = Image.open(io.BytesIO(make_thumbnail(fileobj, max_side=100)))
    assert thumb.format == "JPEG"
    assert thumb.size == (50, 100)  # stored 400x200, shown rotated 90 degrees clockwise
    red, _, blue = thumb.getpixel((25, 10))
    assert (red > 200, blue < 60) == (True, True)  # the stored left edge is now the top
    assert 0x0112 not in thumb.getexif()  # a browser must not rotate it again
    assert fileobj.tell() == 0


def test_a_large_jpeg_thumbnail_is_decoded_at_a_reduced_scale(monkeypatch):
    drafts = []
    original = Image.Image.draft
    monkeypatch.setattr(Image.Image, "draft", lambda img, mode, size: drafts.append(size) or original(img, mode, size))
    thumb = Image.open(io.BytesIO(make_thumbnail(io.BytesIO(jpeg(img=Image.new("RGB", (4000, 2000)))))))
    assert thumb.size == (256, 128)
    assert drafts[0] == (512, 512)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "1", "L", "CMYK"])
def test_thumbnails_are_rgb_jpeg_for_every_mode(mode):
    data = encode(Image.new(mode, (300, 150)), "JPEG" if mode == "CMYK" else "PNG")
    thumb = Image.open(io.BytesIO(make_thumbnail(io.BytesIO(data))))
    assert (thumb.format, thumb.mode, thumb.size) == ("JPEG", "RGB", (256, 128))


def test_transparent_pixels_are_flattened_on_white():
    thumb = Image.open(io.BytesIO(make_thumbnail(io.BytesIO(png((100, 100), "RGBA")))))
    assert min(thumb.getpixel((50, 50))) > 245


def test_a_16_bit_grey_png_thumbnail_is_scaled_not_clipped():
    data = encode(Image.new("I;16", (100, 100), 30_000), "PNG")
    grey = Image.open(io.BytesIO(make_thumbnail(io.BytesIO(data)))).getpixel((50, 50))
    assert 100 < grey[0] < 135  # 30000 / 256 = 117; Pillow's own conversion gives 255


def test_a_small_image_is_not_enlarged():
    assert Image.open(io.BytesIO(make_thumbnail(io.BytesIO(png((100, 64)))))).size == (100, 64)


def test_a_thumbnail_of_a_bad_file_raises_image_rejected():
    with pytest.raises(ImageRejected) as excinfo:
        make_thumbnail(io.BytesIO(encode(noise((200, 150)), "JPEG")[:2000]))
    assert excinfo.value.code == "corrupt_image"
