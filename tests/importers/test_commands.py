import json

import pytest
from django.core.management import CommandError, call_command

from datasets.models import Image
from tests.fixtures.datasets import make_dataset

pytestmark = [pytest.mark.s3, pytest.mark.django_db(transaction=True)]


def test_import_s3_folder_command(project_with_roles, s3, capsys):
    for key in ["cli/cat/1.png", "cli/dog/2.png", "cli/notes.txt"]:
        s3.put_in_drop(project_with_roles.project, key, b"image bytes")
    dataset = make_dataset(project_with_roles.project)

    call_command(
        "import_s3_folder", str(dataset.id), s3.drop_uri(project_with_roles.project, "cli/"), "--auto-label", "--quiet"
    )

    assert "seen 3, imported 2, skipped 1" in capsys.readouterr().out
    assert Image.objects.filter(dataset=dataset, is_labeled=True).count() == 2


def test_import_manifest_command_from_a_local_file(project_with_roles, s3, tmp_path):
    line = {
        "source-ref": s3.drop_uri(project_with_roles.project, "m/1.jpg"),
        "a": 0,
        "a-metadata": {"class-name": "x", "type": "groundtruth/image-classification"},
    }
    path = tmp_path / "local.manifest"
    path.write_text(json.dumps(line) + "\n")
    dataset = make_dataset(project_with_roles.project)

    call_command("import_manifest", str(dataset.id), str(path), "--quiet")

    assert Image.objects.filter(dataset=dataset).count() == 1


def test_a_failed_import_command_says_why(project_with_roles, s3):
    dataset = make_dataset(project_with_roles.project)

    with pytest.raises(CommandError, match="bucket_not_allowed"):
        call_command("import_s3_folder", str(dataset.id), "s3://not-ours-at-all/x/", "--quiet")
