"""List (and optionally delete) entries that break the bucket rule, per project.

Rows stored before the server's bucket was scoped may name another project's files or keys outside the
project's drop folder. They are never served (the rule is judged again when an image URL is signed), but an
operator should see them: each project's offending entries are listed with a few examples.
"""

from collections import defaultdict

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q

from datasets.models import Image
from datasets.services.entries import entries_delete
from projects.models import Project, StorageConnection
from projects.s3 import RefKind, SourceRefRule

EXAMPLES = 3


class Command(BaseCommand):
    help = "List the entries, per project, whose source-ref the bucket rule no longer lets their project read."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--delete", action="store_true", help="Delete the entries listed (counts kept true).")

    def handle(self, *args: object, delete: bool = False, **options: object) -> None:
        connections = StorageConnection.objects.in_bulk()
        rules: dict[tuple[int, int | None], SourceRefRule] = {}
        found: dict[int, dict[int, list[tuple[int, str, str]]]] = defaultdict(lambda: defaultdict(list))
        # Only rows the platform would read: the server's bucket, or through a connection. Uploads (stored
        # files) are the platform's own.
        candidates = Q(connection_id__isnull=False)
        if settings.AWS_STORAGE_BUCKET_NAME:
            candidates |= Q(source_ref__startswith=f"s3://{settings.AWS_STORAGE_BUCKET_NAME}/")
        rows = (
            Image.objects.filter(candidates, storage_name="")
            .values_list("pk", "dataset_id", "dataset__project_id", "source_ref", "connection_id")
            .order_by("pk")
        )
        for pk, dataset_id, project_id, ref, connection_id in rows.iterator(chunk_size=5000):
            key = (project_id, connection_id)
            if key not in rules:
                connection = connections.get(connection_id)
                rules[key] = SourceRefRule(project_id=project_id, connections=[connection] if connection else [])
            verdict = rules[key].judge(ref)
            if verdict.kind is not RefKind.READABLE:
                found[project_id][dataset_id].append((pk, ref, verdict.problem or ""))
        if not found:
            self.stdout.write("No entry breaks the bucket rule.")
            return
        names = dict(Project.objects.filter(pk__in=found).values_list("pk", "name"))
        for project_id, datasets in sorted(found.items()):
            total = sum(len(entries) for entries in datasets.values())
            self.stdout.write(f"project {project_id} ({names.get(project_id, '?')}): {total} entries")
            for dataset_id, entries in sorted(datasets.items()):
                self.stdout.write(f"  dataset {dataset_id}: {len(entries)} entries, e.g.")
                for _, ref, problem in entries[:EXAMPLES]:
                    self.stdout.write(f"    {ref}  ({problem})")
                if delete:
                    deleted = entries_delete(dataset_id=dataset_id, entry_ids=[pk for pk, _, _ in entries])
                    self.stdout.write(f"  dataset {dataset_id}: {deleted} entries deleted")
