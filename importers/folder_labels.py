"""The rules of an S3 folder import (reference 4.1): which keys a prefix covers, and which label the folder
name gives an image. Pure, no database, no S3 calls.

An image gets the name of the first-level folder under the prefix that contains it, however deep it lies;
an image directly at the prefix gets no label. Decisions where the reference is silent:
- A prefix always means a folder: "" is the whole bucket, "echo-dot" means "echo-dot/", so that
  "echo-dot-old/x.jpg" is never imported from "echo-dot".
- S3 keys are strings, not paths. Leading slashes of a prefix are dropped (a typed "/photos" means the folder
  at the root). A prefix with "." or ".." segments, "//" or a backslash is refused, and so is a listed key with
  them (reported, not imported): S3 stores them literally, but a proxy or an S3-compatible server may resolve
  them to other objects, and rewriting them would point the import at other objects too.
- A folder name becomes a label exactly as `datasets.validation.clean_label_name` would store it (surrounding
  whitespace dropped; unicode and inner spaces kept). A folder name that cannot be a label (empty, only
  spaces, control characters, over 256 characters) leaves the image unlabeled, with a `problem` to report:
  the image is still usable, and the user learns why it has no label.
- The extension filter (.jpg .jpeg .png) only skips obvious non-images before their content is probed.
"""

import re
from dataclasses import dataclass

from core.errors import InvalidInput
from core.s3_names import bucket_name_problem, key_segment_problem
from datasets.validation import clean_label_name

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Names S3 reserves for its own use (access point aliases, directory and table buckets, Object Lambda).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FolderLabel:
    """The label an image's folder gives it: `name` None means import it unlabeled. `problem` says why a
    folder name could not be used (None when there is no folder, or the name is fine)."""

    name: str | None
    problem: str | None = None


def normalize_prefix(prefix: str) -> str:
    """The prefix as a folder: "" (the whole bucket) or a string ending in "/", without leading slashes.

    "echo-dot" -> "echo-dot/", "a/b/" -> "a/b/", "/photos" -> "photos/", "/" -> "". Idempotent.
    """
    prefix = prefix.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


def parse_s3_folder_uri(uri: str) -> tuple[str, str]:
    """(bucket, normalized prefix) of "s3://bucket" or "s3://bucket/folder/...".

    Raises ValueError with a message for the user on: another scheme (https://, arn:), a missing or invalid
    bucket name, surrounding whitespace, control characters. Spaces inside the prefix are kept (folder names
    may have them); the prefix is not percent-decoded, since s3:// URIs are not percent-encoded.
    """
    if uri != uri.strip():
        raise ValueError("The S3 location has spaces or line breaks around it; remove them.")
    if _CONTROL_CHARACTERS.search(uri):
        raise ValueError("The S3 location contains control characters.")
    scheme, separator, rest = uri.partition("://")
    if not separator or scheme.lower() != "s3":
        raise ValueError(f"An S3 folder location looks like s3://bucket/folder/, not {uri!r}.")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError("The S3 location has no bucket name: use s3://bucket/folder/.")
    problem = bucket_name_problem(bucket)
    if problem:
        raise ValueError(f"{bucket!r} is not a valid S3 bucket name: {problem}.")
    prefix = normalize_prefix(prefix)
    problem = key_segment_problem(prefix, folder=True)
    if problem:
        raise ValueError(f"The S3 location {problem}.")
    return bucket, prefix


def key_is_under(key: str, prefix: str) -> bool:
    """Whether the import of `prefix` covers `key`: the key lies strictly inside the prefix folder.
    "echo-dot-old/x.jpg" is not under "echo-dot" (nor "echo-dot/"); the folder marker "echo-dot/" itself
    is not under it either."""
    folder = normalize_prefix(prefix)
    return len(key) > len(folder) and key.startswith(folder)


def is_folder_marker(key: str) -> bool:
    """Whether `key` is a folder placeholder ("photos/dog/", what the S3 console creates), never an image."""
    return key.endswith("/")


def looks_like_image_key(key: str) -> bool:
    """Whether the key's extension is .jpg, .jpeg or .png (any case). Only a pre-filter: content decides."""
    return not is_folder_marker(key) and key.lower().endswith(IMAGE_EXTENSIONS)


def folder_label_for_key(key: str, prefix: str) -> FolderLabel:
    """The auto-label of `key` imported from `prefix`: its first-level folder under the prefix, however deep
    the key lies; no label for a key directly at the prefix. Raises ValueError for a key outside the prefix
    (the importer must never import it)."""
    if not key_is_under(key, prefix):
        raise ValueError(f"{key!r} is not under the prefix {normalize_prefix(prefix)!r}")
    folder, separator, _ = key[len(normalize_prefix(prefix)) :].partition("/")
    if not separator:
        return FolderLabel(None)
    try:
        return FolderLabel(clean_label_name(folder))
    except InvalidInput as exc:
        shown = folder if len(folder) <= 40 else folder[:40] + "..."
        return FolderLabel(None, problem=f"The folder name {shown!r} cannot be a label: {exc.message}")


def label_for_key(key: str, prefix: str) -> str | None:
    """The label name `folder_label_for_key` gives, or None (at the prefix, or an unusable folder name).
    Raises ValueError for a key outside the prefix."""
    return folder_label_for_key(key, prefix).name
