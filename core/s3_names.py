"""S3 naming rules (pure): shared by the importers, the manifest codec's callers and storage connections."""

import re

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap")
_IP_ADDRESS_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")


def bucket_name_problem(bucket: str) -> str | None:
    """Why `bucket` breaks the S3 naming rules for general purpose buckets, or None when it follows them.
    (Legacy us-east-1 names with capitals or underscores are refused: S3 no longer allows creating them.)"""
    if not 3 <= len(bucket) <= 63:
        return f"it has {len(bucket)} characters; bucket names have 3-63"
    if not _BUCKET_NAME.fullmatch(bucket):
        return "use lowercase letters, digits, dots and hyphens, and begin and end with a letter or digit"
    if ".." in bucket:
        return "it has two dots in a row"
    if _IP_ADDRESS_LIKE.fullmatch(bucket):
        return "it is formatted as an IP address"
    if bucket.startswith(_RESERVED_BUCKET_PREFIXES) or bucket.endswith(_RESERVED_BUCKET_SUFFIXES):
        return "S3 reserves that prefix or suffix"
    return None


def key_segment_problem(key: str, *, folder: bool = False) -> str | None:
    """Why the S3 key `key` may not be read, or None: "." or ".." segments, empty segments ("a//b", a leading
    "/"), backslashes. S3 stores such keys literally, but a proxy, an S3-compatible server or a local path may
    resolve them to another object, so they are refused rather than rewritten. `folder`: the key is a folder
    prefix, whose last segment is empty ("photos/") or the whole prefix ("" is the bucket)."""
    if "\\" in key:
        return "has a backslash in its key"
    segments = key.split("/")
    if folder and segments[-1] == "":
        segments.pop()
    for segment in segments:
        if segment in (".", ".."):
            return f"has a {segment!r} segment in its key"
        if segment == "":
            return "has an empty segment in its key ('//' or a leading or trailing '/')"
    return None
