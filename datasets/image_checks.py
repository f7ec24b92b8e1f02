"""Whether a file is an image a dataset may hold, judged by its content (never its name). Pure, no database.

Limits (reference 2.1): PNG or JPEG, each side 64-4096 px, at most 15 MB, aspect ratio at most 20:1.

Decisions where the reference is silent:
- "15 MB" is read as 15 MiB (15 * 1024 * 1024 bytes), the binary unit AWS uses in its service quotas.
- The limits apply to the stored pixels (the size in the file header), not to the EXIF-rotated picture; the EXIF
  orientation is recorded beside them and `display_size` gives the upright size.
- Orientation comes from a JPEG's first APP1 "Exif" segment only. PNG orientation is always 1: Rekognition
  documents that it does no orientation correction for PNG, so honouring a PNG eXIf chunk would make our
  thumbnails disagree with the service.
- Anything that declares more than `MAX_DECLARED_PIXELS` is a `decompression_bomb`; smaller images with a
  side over 4096 px are `image_too_large`. Both are refused from the header, before Pillow decodes a pixel.
  That pixel limit is ours and explicit; Pillow's global `Image.MAX_IMAGE_PIXELS` is never touched.
- The header parser is our own, not Pillow's, so that a partial head (a ranged GET) gives either the right
  answer or `NeedMoreBytes`, never a guess. A JPEG header runs up to its first SOS marker.
- Thumbnails are always RGB JPEG (alpha flattened on white, upright, without EXIF so that browsers do not
  rotate them a second time).
- Full decoding relies on `PIL.ImageFile.LOAD_TRUNCATED_IMAGES` staying False (its default); it is a global
  that this module reads and never sets.
"""

import io
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Literal

from PIL import Image

from core.errors import InvalidInput

MAX_BYTES = 15 * 1024 * 1024
MIN_SIDE = 64
MAX_SIDE = 4096
MAX_ASPECT_RATIO = 20
# Four times the largest accepted image: a legitimate but too large photo (24 MP) reads as "too large", while
# anything this big is refused as a bomb. Either way it is refused before decoding.
MAX_DECLARED_PIXELS = 4 * MAX_SIDE * MAX_SIDE
# How much of a file a first read (or a ranged S3 GET) should fetch; headers almost always fit.
HEAD_BYTES = 64 * 1024

ImageFormat = Literal["PNG", "JPEG"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"
_PNG_IHDR_END = 29  # signature (8) + chunk length and type (8) + IHDR data (13); the CRC is optional
_PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # C4 DHT, C8 JPG, CC DAC are not frames
_EXIF_ORIENTATION_TAG = 0x0112
_OTHER_SIGNATURES = {b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}
# The transposition that shows stored pixels upright, per EXIF orientation (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# What Pillow raises on broken data (struct.error and zlib.error escape from some plugins' header code).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_DIMENSION_CODES = frozenset({"image_too_small", "image_too_large"})


@dataclass(frozen=True)
class ImageInfo:
    format: ImageFormat
    width: int  # stored pixels, before EXIF orientation
    height: int
    orientation: int  # EXIF orientation 1-8; 1 when absent or invalid
    byte_size: int | None


class ImageRejected(InvalidInput):
    """The file is not an image a dataset may hold. `code` is the API code (e.g. `image_too_large`),
    `message` says what is wrong with figures."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)

    @property
    def manifest_code(self) -> str:
        """The most specific manifest code: ERROR_INVALID_IMAGE_DIMENSION for a side outside 64..4096 px,
        ERROR_INVALID_IMAGE otherwise. The reference uses the DIMENSION code on bounding-box lines only; a
        line-writer should call `manifest_code_for`."""
        return "ERROR_INVALID_IMAGE_DIMENSION" if self.code in _DIMENSION_CODES else "ERROR_INVALID_IMAGE"

    def manifest_code_for(self, *, has_boxes: bool) -> str:
        """The code for a manifest line (reference 2.5): image-level lines always get ERROR_INVALID_IMAGE."""
        return self.manifest_code if has_boxes else "ERROR_INVALID_IMAGE"


class NeedMoreBytes(Exception):
    """The header does not end within the bytes given. `min_bytes`: read at least this many bytes from the
    start before trying again (a lower bound: a longer header may ask again)."""

    def __init__(self, min_bytes: int) -> None:
        super().__init__(f"the image header needs at least {min_bytes} bytes")
        self.min_bytes = min_bytes


def sniff_format(head: bytes) -> ImageFormat | None:
    """The format the magic bytes at the start of `head` name: PNG, JPEG, or None (also for a too short head)."""
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    if head.startswith(_JPEG_SOI):
        return "JPEG"
    return None


def probe_header(head: bytes, *, byte_size: int | None = None) -> ImageInfo:
    """Format, size and orientation from the first bytes of a file, with every limit checked except decoding.

    `byte_size` is the whole file's size when known (e.g. S3 ContentLength); then the size limits are checked
    first, and a header cut short by the end of the file is `corrupt_image` rather than `NeedMoreBytes`.
    Contract: for any prefix of a file the answer is either `NeedMoreBytes` or the same as for the whole file.
    A PNG needs its first 29 bytes; a JPEG needs everything up to its first SOS marker.
    Raises ImageRejected, NeedMoreBytes, or ValueError when `head` is longer than `byte_size`.
    """
    if byte_size is not None:
        if len(head) > byte_size:
            raise ValueError(f"head has {len(head)} bytes but the file has only {byte_size}")
        _check_byte_size(byte_size)
    whole_file = byte_size is not None and len(head) == byte_size
    image_format = sniff_format(head)
    if image_format is None:
        could_still_be = _PNG_SIGNATURE.startswith(head) or _JPEG_SOI.startswith(head)
        if could_still_be and not whole_file:
            raise NeedMoreBytes(len(_PNG_SIGNATURE))  # enough to tell either signature
        raise ImageRejected(
            "unsupported_format", f"the file is {_name_other_format(head)}; only PNG and JPEG are accepted"
        )
    try:
        width, height, orientation = _png_header(head) if image_format == "PNG" else _jpeg_header(head)
    except NeedMoreBytes as exc:
        if whole_file or (byte_size is not None and exc.min_bytes > byte_size):
            raise ImageRejected("corrupt_image", f"the {image_format} file ends inside its header") from None
        raise
    _check_dimensions(width, height)
    return ImageInfo(image_format, width, height, orientation, byte_size)


def check_image_file(fileobj: IO[bytes], *, byte_size: int | None = None) -> ImageInfo:
    """Full check of an uploaded file: size, format, dimensions, aspect ratio, bomb, and a complete decode
    (a truncated or damaged file is `corrupt_image`).

    `fileobj` must be seekable; it is left at position 0. `byte_size`, when given, must be its true size
    (ValueError otherwise: the caller's idea of the file is stale). The size and header are checked before
    Pillow sees the file, so an oversized file is never read and a bomb never decoded; at most one decoded
    image is held in memory. Raises ImageRejected.
    """
    size = _measure(fileobj)
    if byte_size is not None and byte_size != size:
        raise ValueError(f"byte_size is {byte_size} but the file has {size} bytes")
    try:
        info = _probe_file(fileobj, size)
        with _pillow_errors(info.format):
            # verify() checks what load() skips (PNG chunk CRCs up to IEND) but leaves the image unusable,
            # so the file is opened a second time to decode it.
            with _open(fileobj, info) as img:
                img.verify()
            with _open(fileobj, info) as img:
                img.load()
        return info
    finally:
        fileobj.seek(0)


def make_thumbnail(fileobj: IO[bytes], *, max_side: int = 256) -> bytes:
    """An upright RGB JPEG at most `max_side` px on each side (never enlarged), alpha flattened on white,
    without EXIF. The header limits are checked first, so a bomb is refused (ImageRejected) rather than
    decoded; a JPEG is decoded directly at a reduced scale (draft mode). `fileobj` is left at position 0."""
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    try:
        info = _probe_file(fileobj, _measure(fileobj))
        with _pillow_errors(info.format), _open(fileobj, info) as img:
            if info.format == "JPEG":
                # Let libjpeg scale by 1/2..1/8 while decoding; twice the target, like thumbnail()'s own
                # reducing_gap, keeps the final resampling sharp.
                img.draft("RGB", (2 * max_side, 2 * max_side))
            icc_profile = img.info.get("icc_profile") if img.mode in ("RGB", "RGBA") else None
            small = _to_rgb(img)
        small.thumbnail((max_side, max_side))
        if info.orientation in _UPRIGHT:
            small = small.transpose(_UPRIGHT[info.orientation])
        out = io.BytesIO()
        small.save(out, "JPEG", quality=85, **({"icc_profile": icc_profile} if icc_profile else {}))
        return out.getvalue()
    finally:
        fileobj.seek(0)


def display_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """The upright (width, height) of stored pixels shown with an EXIF orientation: 5-8 swap the sides."""
    if not 1 <= orientation <= 8:
        raise ValueError(f"EXIF orientation must be 1-8, not {orientation}")
    return (height, width) if orientation >= 5 else (width, height)


# --- limits ---------------------------------------------------------------------------------------------


def _check_byte_size(byte_size: int) -> None:
    if byte_size == 0:
        raise ImageRejected("empty_file", "the file is empty")
    if byte_size > MAX_BYTES:
        raise ImageRejected(
            "file_too_large",
            f"the file is {byte_size:,} bytes ({byte_size / 2**20:.1f} MiB); at most {MAX_BYTES:,} bytes (15 MiB)",
        )


def _check_dimensions(width: int, height: int) -> None:
    size = f"{width}x{height} px"
    if width == 0 or height == 0:
        raise ImageRejected("corrupt_image", f"the header declares an image of {size}")
    if width * height > MAX_DECLARED_PIXELS:
        raise ImageRejected(
            "decompression_bomb",
            f"the image declares {size} ({width * height:,} pixels, over {MAX_DECLARED_PIXELS:,}); "
            "refused without decoding",
        )
    sides = f"the image is {size}; each side must be {MIN_SIDE}-{MAX_SIDE} px"
    if max(width, height) > MAX_SIDE:
        raise ImageRejected("image_too_large", sides)
    if min(width, height) < MIN_SIDE:
        raise ImageRejected("image_too_small", sides)
    # Integer comparison: 1281x64 (20.02:1) must not round down to an accepted 20.0.
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        ratio = max(width, height) / min(width, height)
        raise ImageRejected(
            "aspect_ratio", f"the image is {size}, an aspect ratio of {ratio:.2f}:1; at most {MAX_ASPECT_RATIO}:1"
        )


# --- header parsing ---------------------------------------------------------------------------------------


def _png_header(head: bytes) -> tuple[int, int, int]:
    if len(head) < _PNG_IHDR_END:
        raise NeedMoreBytes(_PNG_IHDR_END)
    length, chunk_type = struct.unpack_from(">I4s", head, 8)
    if chunk_type != b"IHDR" or length != 13:
        raise ImageRejected("corrupt_image", "the PNG does not start with an IHDR chunk")
    width, height, depth, colour, compression, filter_method, interlace = struct.unpack_from(">IIBBBBB", head, 16)
    if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filter_method or interlace > 1:
        raise ImageRejected("corrupt_image", f"the PNG header is invalid (colour type {colour}, bit depth {depth})")
    if len(head) >= _PNG_IHDR_END + 4 and zlib.crc32(head[12:_PNG_IHDR_END]) != struct.unpack_from(">I", head, 29)[0]:
        raise ImageRejected("corrupt_image", "the PNG header's checksum is wrong")
    return width, height, 1


def _jpeg_header(head: bytes) -> tuple[int, int, int]:
    """Walk the JPEG segments from SOI to the first SOS: the frame size from the one SOF, the orientation
    from the first Exif APP1. Junk between segments is skipped, as libjpeg and Pillow do."""
    pos = 2
    size: tuple[int, int] | None = None
    orientation = 1
    exif_seen = False
    while True:
        pos = head.find(b"\xff", pos)
        if pos < 0:
            raise NeedMoreBytes(len(head) + 2)
        while pos + 1 < len(head) and head[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 1 >= len(head):
            raise NeedMoreBytes(pos + 2)
        marker = head[pos + 1]
        pos += 2
        if marker == 0xDA:  # SOS: the entropy-coded data starts; the header is complete
            break
        if marker == 0x00 or marker == 0x01 or 0xD0 <= marker <= 0xD7:  # stuffed 0xFF, TEM, RSTn: no length
            continue
        if marker < 0xC0 or marker in (0xD8, 0xD9):
            raise ImageRejected("corrupt_image", f"unexpected JPEG marker FF{marker:02X} before the image data")
        if pos + 2 > len(head):
            raise NeedMoreBytes(pos + 2)
        end = pos + int.from_bytes(head[pos : pos + 2], "big")
        if end < pos + 2:
            raise ImageRejected("corrupt_image", f"a JPEG segment at byte {pos - 2} has an invalid length")
        if end > len(head):
            raise NeedMoreBytes(end + 2)  # the segment, then the next marker
        segment = head[pos + 2 : end]
        if marker in _JPEG_SOF:
            if size is not None:
                raise ImageRejected("corrupt_image", "the JPEG has two frame headers (SOF)")
            size = _jpeg_frame_size(segment)
        elif marker == 0xE1 and not exif_seen and segment.startswith(b"Exif\x00\x00"):
            exif_seen = True
            orientation = _exif_orientation(segment[6:])
        pos = end
    if size is None:
        raise ImageRejected("corrupt_image", "the JPEG has no frame header (SOF) before its image data")
    return size[0], size[1], orientation


def _jpeg_frame_size(segment: bytes) -> tuple[int, int]:
    if len(segment) < 6:
        raise ImageRejected("corrupt_image", "the JPEG frame header (SOF) is too short")
    precision, height, width, components = struct.unpack_from(">BHHB", segment)
    # Pillow (and browsers) decode 8-bit JPEG with 1, 3 or 4 components only.
    if precision != 8:
        raise ImageRejected("unsupported_format", f"the file is a {precision}-bit JPEG; only 8-bit JPEG is accepted")
    if components not in (1, 3, 4):
        raise ImageRejected("unsupported_format", f"the JPEG has {components} colour components; 1, 3 or 4 accepted")
    return width, height


def _exif_orientation(tiff: bytes) -> int:
    """The Orientation tag of IFD0 of an EXIF (TIFF) block; 1 when absent or unreadable (browsers ignore a
    broken tag too, so a bad EXIF block does not make the image unusable)."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    magic, ifd = struct.unpack_from(order + "HI", tiff, 2)
    if magic != 42 or ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        tag, value_type, value_count, value = struct.unpack_from(order + "HHIH", tiff, entry)
        if tag == _EXIF_ORIENTATION_TAG:
            return value if value_type == 3 and value_count == 1 and 1 <= value <= 8 else 1
    return 1


def _name_other_format(head: bytes) -> str:
    if not head:
        return "empty"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF"
    for signature, name in _OTHER_SIGNATURES.items():
        if head.startswith(signature):
            return name
    return "not a recognised image"


# --- file helpers -----------------------------------------------------------------------------------------


def _measure(fileobj: IO[bytes]) -> int:
    size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    return size


def _probe_file(fileobj: IO[bytes], size: int) -> ImageInfo:
    """probe_header on as much of the file as its header needs; the size is checked before anything is read."""
    _check_byte_size(size)
    fileobj.seek(0)
    head = b""
    want = min(HEAD_BYTES, size)
    while True:
        while len(head) < want:
            chunk = fileobj.read(want - len(head))
            if not chunk:  # shorter than measured (it changed underneath us): judge what is there
                return probe_header(head, byte_size=len(head))
            head += chunk
        try:
            return probe_header(head, byte_size=size)
        except NeedMoreBytes as exc:  # a big EXIF/ICC segment; never past `size`, where probe_header decides
            want = min(size, max(exc.min_bytes, 2 * len(head)))


def _open(fileobj: IO[bytes], info: ImageInfo) -> Image.Image:
    fileobj.seek(0)
    # Only the sniffed format's plugin may parse the file: no other decoder is exposed to user data.
    img = Image.open(fileobj, formats=[info.format])
    if img.size != (info.width, info.height):
        img.close()
        raise ImageRejected(
            "corrupt_image",
            f"the header says {info.width}x{info.height} px but the decoder reads {img.width}x{img.height} px",
        )
    return img


@contextmanager
def _pillow_errors(image_format: str) -> Iterator[None]:
    """Turn Pillow's exceptions about the file's content into ImageRejected; anything else propagates."""
    try:
        yield
    # The warning arrives as an exception only where warnings are errors (our tests): our own pixel limit is
    # far below Pillow's, so with default settings neither is reached.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("decompression_bomb", f"the {image_format} file is a decompression bomb: {exc}") from exc
    except _DECODE_ERRORS as exc:
        # Pillow caps what a compressed PNG text or ICC chunk may expand to, and says so only in its message.
        if isinstance(exc, ValueError) and "Decompressed data too large" in str(exc):
            message = f"a compressed chunk of the {image_format} file expands too much: {exc}"
            raise ImageRejected("decompression_bomb", message) from exc
        raise ImageRejected("corrupt_image", f"the {image_format} file cannot be decoded: {exc}") from exc


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB, alpha flattened on white. Done before resizing: Pillow resizes P and 1 images with NEAREST only."""
    if img.mode.startswith("I"):
        # 16-bit grey PNG. Pillow clips it to 255 when converting to L/RGB (almost all white); scale it instead.
        img = img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if img.has_transparency_data:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")
