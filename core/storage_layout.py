"""Where the platform keeps its own files, and which keys of the server's bucket a project may read (pure).

The platform writes only under PLATFORM_FOLDERS of its storage (in the server's bucket when STORAGE_BACKEND is
s3, under `AWS_LOCATION` when one is set). Those files belong to the project whose entry names them, so no
user may name them in an import or a manifest line. A project reads the rest of the server's bucket only
under its own drop folder (`<SERVER_BUCKET_PROJECT_PREFIX><project id>/`) and the operator's shared read-only
prefixes. Prefixes are folders: "projects/1/" never reaches "projects/12/".
"""

from dataclasses import dataclass

UPLOADS_FOLDER = "uploads/"
THUMBNAILS_FOLDER = "thumbnails/"
IMPORTS_FOLDER = "imports/"
PLATFORM_FOLDERS = (UPLOADS_FOLDER, THUMBNAILS_FOLDER, IMPORTS_FOLDER)

# Where local-storage uploads claim to live in manifests: not a bucket anyone reads, but a stable name that
# exported manifests carry, UpdateDatasetEntries matches and a re-import resolves to the stored file.
LOCAL_UPLOADS_BUCKET = "groundwork-local"


def as_folder(prefix: str) -> str:
    """A key prefix as a folder: "photos" -> "photos/", "photos/" unchanged, "" stays "" (the whole bucket)."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def overlaps(a: str, b: str) -> bool:
    """Whether two folders share any key (one lies inside the other)."""
    return a.startswith(b) or b.startswith(a)


@dataclass(frozen=True)
class BucketLayout:
    """The server bucket's folders: the platform's own, the projects' drop folders, the shared ones."""

    location: str  # the platform storage's folder in the bucket ("" or "name/")
    platform: tuple[str, ...]  # the keys the platform writes start with one of these
    project_prefix: str  # a raw prefix: the drop folder of project 12 is f"{project_prefix}12/"
    shared: tuple[str, ...]

    def drop_folder(self, project_id: int) -> str:
        return f"{self.project_prefix}{project_id}/"

    def storage_name(self, key: str) -> str | None:
        """The platform storage's name of `key` when the key lies in the platform's own folders, else None."""
        if not any(key.startswith(folder) for folder in self.platform):
            return None
        name = key[len(self.location) :]
        return name if name.startswith(PLATFORM_FOLDERS) else None

    def readable(self, *, project_id: int, key: str) -> bool:
        """Whether the project may read the object `key` (or every key of the folder `key` ending in "/")."""
        if any(overlaps(key, folder) for folder in self.platform):
            return False
        return key.startswith(self.drop_folder(project_id)) or any(key.startswith(folder) for folder in self.shared)

    def readable_folder(self, *, project_id: int, prefix: str) -> bool:
        """Whether every key under the folder `prefix` may be read by the project ("" is the whole bucket)."""
        folder = as_folder(prefix)
        return bool(folder) and self.readable(project_id=project_id, key=folder)


def bucket_layout(*, location: str, project_prefix: str, shared: list[str]) -> BucketLayout:
    """The layout for these settings. Raises ValueError when a drop folder or a shared prefix would reach the
    platform's own files (or every project's drop folders), which must never be readable."""
    location = as_folder(location.strip("/"))
    platform = (location,) if location else PLATFORM_FOLDERS
    project_prefix = project_prefix.lstrip("/")
    if not project_prefix or "//" in project_prefix:
        raise ValueError("SERVER_BUCKET_PROJECT_PREFIX must be a key prefix such as 'projects/'.")
    if any(overlaps(project_prefix, folder) for folder in platform):
        raise ValueError(f"SERVER_BUCKET_PROJECT_PREFIX {project_prefix!r} overlaps the platform's own files.")
    folders = []
    for prefix in shared:
        folder = as_folder(prefix)
        if not folder:
            raise ValueError("SERVER_BUCKET_SHARED_PREFIXES may not name the whole bucket ('' or '/').")
        if any(overlaps(folder, own) for own in platform):
            raise ValueError(f"The shared prefix {prefix!r} overlaps the platform's own files ({', '.join(platform)}).")
        if overlaps(folder, project_prefix):
            raise ValueError(f"The shared prefix {prefix!r} overlaps the projects' drop folders ({project_prefix}).")
        folders.append(folder)
    return BucketLayout(location=location, platform=platform, project_prefix=project_prefix, shared=tuple(folders))
