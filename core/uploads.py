"""Receiving uploaded files: streamed to temporary files, and cut off as soon as one is too large."""

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes every upload to a temporary file (bounded memory, any number of files); a file that passes
    the limit is dropped mid-stream and named in `request.refused_uploads` instead. The limit is
    UPLOAD_MAX_FILE_BYTES, or `request.upload_max_file_bytes` when a view set one before reading the body."""

    def new_file(self, field_name: str, file_name: str, *args: object, **kwargs: object) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self._received = 0
        if not hasattr(self.request, "refused_uploads"):
            self.request.refused_uploads = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        if self._received > getattr(self.request, "upload_max_file_bytes", settings.UPLOAD_MAX_FILE_BYTES):
            self.request.refused_uploads.append(self.file_name)
            self.file.close()
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)
