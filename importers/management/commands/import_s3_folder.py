"""Import an S3 folder into a dataset, in this process, with a progress bar (same services as the API)."""

from argparse import ArgumentParser

from django.core.management.base import BaseCommand

from importers.management.commands._run_import import report, run_with_progress, start_job


class Command(BaseCommand):
    help = "Import the images of an S3 folder into a dataset (labels from first-level folder names)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("dataset", type=int, help="dataset id")
        parser.add_argument("s3_uri", help="s3://bucket/folder/")
        parser.add_argument("--auto-label", action="store_true", help="label images by their first-level folder")
        parser.add_argument("--connection", type=int, default=None, help="storage connection id (other buckets)")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        source = {
            "kind": "s3_folder",
            "s3_uri": options["s3_uri"],
            "auto_label": options["auto_label"],
            "connection": options["connection"],
        }
        job = start_job(dataset_id=options["dataset"], source=source)
        report(self, run_with_progress(job, quiet=options["quiet"]))
