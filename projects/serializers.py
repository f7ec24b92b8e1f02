"""Input and output shapes of the projects API (shape only; the rules are in services and permissions)."""

from rest_framework import serializers

from core.fields import CodedChoiceField
from datasets.serializers import DatasetOutputSerializer, SourceSerializer
from projects.models import Membership, Project, Role, StorageConnection


class ProjectOutputSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="my_role", read_only=True, help_text="The caller's role in the project.")

    class Meta:
        model = Project
        fields = ["id", "name", "description", "role", "created_at", "updated_at"]
        read_only_fields = fields


class TrainingDatasetSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    source = SourceSerializer(required=False, default={"kind": "empty"})


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    training_dataset = TrainingDatasetSerializer(required=False, help_text="Create the first training dataset too")


class ProjectCreatedSerializer(ProjectOutputSerializer):
    """A new project; with `training_dataset` and its `import` when one was asked for."""

    def get_fields(self) -> dict[str, serializers.Field]:
        from importers.serializers import ImportJobOutputSerializer  # importers build on projects

        fields = super().get_fields()
        fields["training_dataset"] = DatasetOutputSerializer(read_only=True, allow_null=True)
        fields["import"] = ImportJobOutputSerializer(source="import_job", read_only=True, allow_null=True)
        return fields


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class MembershipOutputSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    full_name = serializers.CharField(source="user.get_full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "full_name", "role", "created_at", "updated_at"]
        read_only_fields = fields


def role_field() -> CodedChoiceField:
    return CodedChoiceField(choices=Role.choices, invalid_code="unknown_role")


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = role_field()


class MembershipUpdateSerializer(serializers.Serializer):
    role = role_field()


class ConnectionOutputSerializer(serializers.ModelSerializer):
    """A storage connection as everyone with access sees it: never its secret."""

    class Meta:
        model = StorageConnection
        fields = ["id", "name", "bucket", "prefix", "region", "access_key_id", "created_at"]
        read_only_fields = fields


class ConnectionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    bucket = serializers.CharField(max_length=63)
    prefix = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")
    region = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    access_key_id = serializers.CharField(max_length=128)
    secret_access_key = serializers.CharField(max_length=256, write_only=True, trim_whitespace=False)
