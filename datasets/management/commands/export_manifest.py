"""Write a dataset as a Ground Truth manifest to a file (or stdout), with a progress bar on stderr."""

import sys
from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.progress import ProgressBar
from datasets import export
from datasets.models import Dataset


class Command(BaseCommand):
    help = "Export a dataset as a Ground Truth manifest (JSON Lines)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("dataset", type=int, help="dataset id")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: object, dataset: int, output: str | None, quiet: bool, **options: object) -> None:
        found = Dataset.objects.filter(pk=dataset).first()
        if found is None:
            raise CommandError(f"No dataset {dataset}.")
        progress = None if quiet else ProgressBar(found.total_entries, label=f"exporting {found.name}")
        target = Path(output).open("wb") if output else sys.stdout.buffer  # noqa: SIM115 - closed below
        try:
            for chunk in export.iter_manifest_chunks(dataset_id=found.pk, job_name=f"groundwork/{found.name}"):
                target.write(chunk)
                if progress:
                    progress.advance(chunk.count(b"\n"))
        finally:
            if output:
                target.close()
        if progress:
            progress.finish()
