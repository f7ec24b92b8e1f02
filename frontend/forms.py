"""Forms of the pages: they check shape; the rules (names taken, buckets allowed, roles) are the services'."""

from collections.abc import Iterable, Mapping

from django import forms
from django.conf import settings

from core.errors import GroundworkError
from core.uploads import size_words
from datasets.models import DatasetType
from projects.models import Role

S3_PLACEHOLDER = "s3://bucket/folder/"


def add_service_error(form: forms.Form, error: GroundworkError, field_map: Mapping[str, str] | None = None) -> None:
    """Show a service's error next to the field it names (API names like `source.s3_uri` are mapped), else on top."""
    field_map = field_map or {}
    placed = False
    for name, message in error.fields.items():
        field = field_map.get(name, name.rsplit(".", 1)[-1])
        if field in form.fields:
            form.add_error(field, message if message.endswith(".") else f"{message}.")
            placed = True
    if not placed:
        form.add_error(None, error.message)


def role_choices(roles: Iterable[Role]) -> list[tuple[str, str]]:
    allowed = set(roles)
    return [(role.value, role.label) for role in Role if role in allowed]


def auto_label_field() -> forms.BooleanField:
    """The S3 folder source's checkbox, worded as the reference console words it."""
    return forms.BooleanField(
        required=False, label="Automatically attach a label to my images based on the folder they're stored in"
    )


class ProjectCreateForm(forms.Form):
    FIRST_DATASET = [
        ("none", "No dataset yet"),
        ("empty", "An empty training dataset"),
        ("s3_folder", "A training dataset from an S3 folder"),
        ("manifest", "A training dataset from a manifest in S3"),
    ]
    name = forms.CharField(max_length=200, label="Project name")
    description = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    first_dataset = forms.ChoiceField(choices=FIRST_DATASET, initial="none", widget=forms.RadioSelect)
    dataset_name = forms.CharField(max_length=200, required=False, label="Training dataset name", initial="train")
    s3_uri = forms.CharField(
        max_length=2100,
        required=False,
        label="S3 location",
        widget=forms.TextInput(attrs={"placeholder": S3_PLACEHOLDER}),
    )
    auto_label = auto_label_field()

    def clean(self) -> dict:
        data = super().clean()
        kind = data.get("first_dataset")
        if kind and kind != "none" and not data.get("dataset_name"):
            self.add_error("dataset_name", "Name the dataset.")
        if kind in {"s3_folder", "manifest"} and not data.get("s3_uri"):
            self.add_error("s3_uri", "Give the S3 location.")
        return data

    def training_dataset(self) -> dict | None:
        data = self.cleaned_data
        kind = data["first_dataset"]
        if kind == "none":
            return None
        source: dict = {"kind": kind}
        if kind in {"s3_folder", "manifest"}:
            source["s3_uri"] = data["s3_uri"]
        if kind == "s3_folder":
            source["auto_label"] = data["auto_label"]
        return {"name": data["dataset_name"], "source": source}


class DatasetCreateForm(forms.Form):
    SOURCES = [
        ("s3_folder", "Import images from an S3 folder"),
        ("manifest", "Import a SageMaker Ground Truth manifest"),
        ("upload", "Upload images from this computer"),
        ("dataset", "Copy an existing dataset"),
        ("empty", "Start empty"),
    ]
    MANIFEST_FROM = [("s3", "A manifest file in S3"), ("file", "A manifest file on this computer")]

    name = forms.CharField(max_length=200, label="Dataset name")
    type = forms.ChoiceField(choices=DatasetType.choices, initial=DatasetType.TRAIN, widget=forms.RadioSelect)
    source = forms.ChoiceField(choices=SOURCES, initial="s3_folder", widget=forms.RadioSelect)
    s3_uri = forms.CharField(
        max_length=2100,
        required=False,
        label="S3 folder location",
        widget=forms.TextInput(attrs={"placeholder": S3_PLACEHOLDER}),
    )
    auto_label = auto_label_field()
    manifest_from = forms.ChoiceField(
        choices=MANIFEST_FROM, initial="s3", required=False, widget=forms.RadioSelect, label="Where is the manifest?"
    )
    manifest_uri = forms.CharField(
        max_length=2100,
        required=False,
        label="Manifest file location",
        widget=forms.TextInput(attrs={"placeholder": "s3://bucket/path/output.manifest"}),
    )
    manifest_file = forms.FileField(required=False, label="Manifest file")
    connection = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Read the bucket through", choices=[]
    )
    copy_of = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Dataset to copy", choices=[])

    def __init__(
        self, *args, connections: Iterable = (), datasets: Iterable = (), refused_files: Iterable = (), **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.refused_files = list(refused_files)  # cut off while they streamed in: over the manifest limit
        self.fields["connection"].choices = [("", "The server's bucket")] + [
            (c.pk, f"{c.name} (s3://{c.bucket}/{c.prefix})") for c in connections
        ]
        self.fields["copy_of"].choices = [("", "Choose a dataset")] + [
            (d.pk, f"{d.name} ({d.get_type_display().lower()}, {d.total_entries} images)") for d in datasets
        ]

    def clean(self) -> dict:
        data = super().clean()
        source = data.get("source")
        if source == "s3_folder" and not data.get("s3_uri"):
            self.add_error("s3_uri", "Give the S3 folder to import.")
        if source == "manifest":
            if data.get("manifest_from") == "file":
                if self.refused_files:
                    limit = size_words(settings.MANIFEST_MAX_BYTES)
                    self.add_error("manifest_file", f"The manifest file is over {limit}; it was not received.")
                elif not data.get("manifest_file"):
                    self.add_error("manifest_file", "Choose the manifest file.")
            elif not data.get("manifest_uri"):
                self.add_error("manifest_uri", "Give the manifest's S3 location.")
        if source == "dataset" and not data.get("copy_of"):
            self.add_error("copy_of", "Choose the dataset to copy.")
        return data

    def source_spec(self) -> dict:
        """The source in the API's shape (what import services take)."""
        data = self.cleaned_data
        source = data["source"]
        if source == "s3_folder":
            return {
                "kind": "s3_folder",
                "s3_uri": data["s3_uri"],
                "auto_label": data["auto_label"],
                "connection": data["connection"],
            }
        if source == "manifest":
            upload = data.get("manifest_file")
            if data.get("manifest_from") == "file":
                return {"kind": "manifest", "upload": upload, "upload_size": upload.size}
            return {"kind": "manifest", "s3_uri": data["manifest_uri"], "connection": data["connection"]}
        if source == "dataset":
            return {"kind": "dataset", "dataset": data["copy_of"]}
        return {"kind": "empty"}

    # Errors of the services name API fields; these are the form's.
    FIELD_MAP = {"source.s3_uri": "s3_uri", "source.connection": "connection", "name": "name"}


class DistributeForm(forms.Form):
    training_dataset = forms.TypedChoiceField(coerce=int, label="From the training dataset", choices=[])
    test_dataset = forms.TypedChoiceField(coerce=int, label="Into the empty test dataset", choices=[])
    test_fraction = forms.FloatField(
        min_value=0.01,
        max_value=0.99,
        initial=0.2,
        label="Share moved to test",
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    seed = forms.IntegerField(initial=0, label="Random seed")

    def __init__(self, *args, training: Iterable = (), test: Iterable = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["training_dataset"].choices = [(d.pk, d.name) for d in training]
        self.fields["test_dataset"].choices = [(d.pk, d.name) for d in test]


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=[])

    def __init__(self, *args, roles: Iterable[Role] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(roles)
        if Role.ANNOTATOR in set(roles):
            self.fields["role"].initial = Role.ANNOTATOR


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=role_choices(Role))


class ConnectionForm(forms.Form):
    name = forms.CharField(max_length=100)
    bucket = forms.CharField(max_length=63)
    prefix = forms.CharField(max_length=1024, required=False, help_text="Only keys under this prefix are reachable.")
    region = forms.CharField(max_length=32, required=False)
    access_key_id = forms.CharField(max_length=128, label="Access key ID")
    secret_access_key = forms.CharField(
        max_length=256,
        strip=False,
        label="Secret access key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted; never shown again.",
    )
