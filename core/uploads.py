"""Receiving uploaded files: streamed to temporary files, and cut off as soon as one is too large.

The limit is UPLOAD_MAX_FILE_BYTES (an image), unless the view that will receive the request names another
setting with `upload_limit("SETTING")`. The handler looks the view up itself, because the body may be read
before the view runs (CSRF and session authentication read `request.POST`), so a view cannot set it in time.
"""

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve

from core.errors import GroundworkError

View = TypeVar("View", bound=Callable)


class UploadTooLarge(GroundworkError):
    http_status = 413
    default_code = "file_too_large"


def upload_limit(setting_name: str) -> Callable[[View], View]:
    """Mark a view (function or class) as taking uploads up to the byte count of the setting `setting_name`."""

    def mark(view: View) -> View:
        view.upload_limit_setting = setting_name
        return view

    return mark


def upload_limit_bytes(request: HttpRequest) -> int:
    """The largest file the view of `request` takes."""
    try:
        func = resolve(request.path_info).func
    except Resolver404:
        return settings.UPLOAD_MAX_FILE_BYTES
    view_class = getattr(func, "view_class", None)  # set by as_view(), Django's and DRF's
    name = getattr(func, "upload_limit_setting", None) or getattr(view_class, "upload_limit_setting", None)
    return getattr(settings, name) if name else settings.UPLOAD_MAX_FILE_BYTES


def refused_uploads(request: HttpRequest) -> list[str]:
    """The names of the files of `request` that were cut off for being over the limit."""
    return list(getattr(request, "refused_uploads", []))


def size_words(byte_count: int) -> str:
    return filesizeformat(byte_count).replace("\xa0", " ")


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes every upload to a temporary file (bounded memory, any number of files); a file that passes
    the limit is dropped mid-stream (its temporary file deleted) and named in `request.refused_uploads`."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:  # noqa: ANN001
        self._limit = upload_limit_bytes(self.request)
        if not hasattr(self.request, "refused_uploads"):
            self.request.refused_uploads = []
        return super().handle_raw_input(input_data, META, content_length, boundary, encoding)

    def new_file(self, field_name: str, file_name: str, *args: object, **kwargs: object) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        if self._received > self._limit:
            self.request.refused_uploads.append(self.file_name)
            self.file.close()  # a named temporary file: closing deletes it
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)
