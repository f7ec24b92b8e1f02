"""Import a Ground Truth manifest (S3 URI or local file) into a dataset, with a progress bar."""

from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from importers.management.commands._run_import import report, run_with_progress, start_job


class Command(BaseCommand):
    help = "Import a Ground Truth manifest into a dataset (from s3://bucket/key or a local path)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("dataset", type=int, help="dataset id")
        parser.add_argument("manifest", help="s3://bucket/key.manifest or a local file")
        parser.add_argument("--connection", type=int, default=None, help="storage connection id (other buckets)")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        location = str(options["manifest"])
        if location.startswith("s3://"):
            source = {"kind": "manifest", "s3_uri": location, "connection": options["connection"]}
            job = start_job(dataset_id=options["dataset"], source=source)
        else:
            path = Path(location)
            if not path.is_file():
                raise CommandError(f"No file {location}.")
            with path.open("rb") as upload:
                source = {"kind": "manifest", "upload": upload, "upload_size": path.stat().st_size}
                job = start_job(dataset_id=options["dataset"], source=source)
        report(self, run_with_progress(job, quiet=options["quiet"]))
