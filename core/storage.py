"""The local file storage: Django's, except that a file that cannot be written whole is never left behind."""

import errno
import os

from django.core.files.storage import FileSystemStorage

from core.errors import GroundworkError

_FULL = {errno.ENOSPC, errno.EDQUOT}


class StorageFull(GroundworkError):
    """The disk (or the quota) of the platform's storage is full: the file was not stored."""

    http_status = 507
    default_code = "storage_full"


class LocalStorage(FileSystemStorage):
    """Django's FileSystemStorage leaves the part it wrote when a write fails (the disk full): removed here, and
    the failure raised as StorageFull so callers tell the client which files were not stored."""

    def _save(self, name: str, content: object) -> str:
        path = self.path(name)
        ours = not os.path.exists(path)  # names are generated and unique; never remove a file we did not write
        try:
            return super()._save(name, content)
        except OSError as error:
            if ours and os.path.exists(path):
                os.remove(path)
            if error.errno in _FULL:
                raise StorageFull("The platform's storage is full; the file was not stored.") from error
            raise
