"""Input and output shapes of the labeling API (shape only; rules live in labeling.services)."""

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datasets.image_urls import entry_image_url, entry_thumbnail_url
from labeling import stored
from labeling.models import Assignment, LabelingJob, Selection, Task, TaskStatus, TaskType, Team


class TeamInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    members = serializers.ListField(child=serializers.CharField(max_length=150), required=False, default=list)


class TeamUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63, required=False)
    members = serializers.ListField(child=serializers.CharField(max_length=150), required=False)


class TeamOutputSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "project", "name", "members", "created_at"]


class JobInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    dataset = serializers.IntegerField()
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    labels = serializers.ListField(child=serializers.CharField(max_length=300, trim_whitespace=False))
    team = serializers.IntegerField()
    workers_per_image = serializers.IntegerField(default=1)
    task_time_limit_s = serializers.IntegerField(default=300)
    lifetime_s = serializers.IntegerField(default=864_000)
    only_unlabeled = serializers.BooleanField(default=False, help_text="Select only unlabeled entries")
    with_labels = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        help_text="Select only entries with one of these labels (image-level or a box)",
    )
    instructions = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    label_attribute_name = serializers.CharField(
        required=False, max_length=127, help_text="Name of the label attribute in the output manifest (default: name)"
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("only_unlabeled") and attrs.get("with_labels"):
            raise serializers.ValidationError("Give only_unlabeled or with_labels, not both.")
        return attrs


class ProgressSerializer(serializers.Serializer):
    images = serializers.IntegerField(source="image_count")
    completed = serializers.IntegerField(source="completed_count")
    in_progress = serializers.IntegerField()
    review = serializers.IntegerField(source="review_count")


class JobOutputSerializer(serializers.ModelSerializer):
    only_unlabeled = serializers.SerializerMethodField()
    with_labels = serializers.JSONField(source="selection_labels")
    progress = ProgressSerializer(source="*")
    status = serializers.CharField(read_only=True, help_text="in_progress, completed or expired")
    labels = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = LabelingJob
        fields = [
            "id",
            "project",
            "dataset",
            "name",
            "task_type",
            "labels",
            "instructions",
            "team",
            "workers_per_image",
            "task_time_limit_s",
            "lifetime_s",
            "selection",
            "only_unlabeled",
            "with_labels",
            "label_attribute_name",
            "status",
            "progress",
            "skipped_count",
            "created_by",
            "created_at",
            "expires_at",
            "completed_at",
        ]

    def get_only_unlabeled(self, job: LabelingJob) -> bool:
        return job.selection == Selection.UNLABELED


class WorkImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    image_url = serializers.CharField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    orientation = serializers.IntegerField(
        allow_null=True, help_text="EXIF orientation 1-8 of the stored file; width/height and boxes are in its frame"
    )
    source_ref = serializers.CharField()


class WorkSerializer(serializers.ModelSerializer):
    """A lease as the worker sees it: what to look at, until when, and what to answer."""

    image = WorkImageSerializer(source="work_image")
    task = serializers.IntegerField(source="task_id")
    job = serializers.IntegerField(source="job_id")
    task_type = serializers.CharField(source="job.task_type")
    labels = serializers.ListField(child=serializers.CharField(), source="job.labels")
    instructions = serializers.CharField(source="job.instructions")
    status = serializers.CharField(read_only=True, help_text="leased, submitted, released or expired")

    class Meta:
        model = Assignment
        fields = [
            "id",
            "job",
            "task",
            "image",
            "status",
            "leased_at",
            "expires_at",
            "task_type",
            "labels",
            "instructions",
        ]


class SubmitBoxSerializer(serializers.Serializer):
    label = serializers.CharField()
    left = serializers.FloatField()
    top = serializers.FloatField()
    width = serializers.FloatField()
    height = serializers.FloatField()


class SubmitInputSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField(trim_whitespace=False), required=False)
    boxes = SubmitBoxSerializer(many=True, required=False)
    verdict = serializers.BooleanField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=2000)


class AssignmentOutputSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="leased, submitted, released or expired")

    class Meta:
        model = Assignment
        fields = [
            "id",
            "job",
            "task",
            "worker",
            "status",
            "leased_at",
            "expires_at",
            "submitted_at",
            "answer",
            "seconds_spent",
        ]


# The queue's responses, built as plain dicts: DRF builds a ModelSerializer's fields anew for every instance, a
# fifth of the CPU of an annotator's request. The serializers above document them in the schema; a test keeps
# both the same (tests/labeling/test_api.py).
_DATETIME = serializers.DateTimeField()


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def work_data(assignment: Assignment) -> dict[str, Any]:
    """WorkSerializer's output: the lease with `work_image` and `job` set."""
    job = assignment.job
    return {
        "id": assignment.pk,
        "job": assignment.job_id,
        "task": assignment.task_id,
        "image": assignment.work_image,
        "status": assignment.status,
        "leased_at": _datetime(assignment.leased_at),
        "expires_at": _datetime(assignment.expires_at),
        "task_type": job.task_type,
        "labels": list(job.labels),
        "instructions": job.instructions,
    }


def assignment_data(assignment: Assignment) -> dict[str, Any]:
    """AssignmentOutputSerializer's output."""
    return {
        "id": assignment.pk,
        "job": assignment.job_id,
        "task": assignment.task_id,
        "worker": assignment.worker_id,
        "status": assignment.status,
        "leased_at": _datetime(assignment.leased_at),
        "expires_at": _datetime(assignment.expires_at),
        "submitted_at": _datetime(assignment.submitted_at),
        "answer": assignment.answer,
        "seconds_spent": assignment.seconds_spent,
    }


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class ReviewImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source_ref = serializers.CharField()
    image_url = serializers.CharField(allow_null=True)
    thumbnail_url = serializers.CharField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class TaskAnswerSerializer(serializers.Serializer):
    worker = UserRefSerializer()
    answer = serializers.JSONField()
    seconds = serializers.FloatField(source="seconds_spent", allow_null=True)


class TaskOutputSerializer(serializers.ModelSerializer):
    """A task as a reviewer sees it. `result` is `{labels}`, `{boxes}` or `{verdict, comments}` (None while
    open); `answers` are the live (not discarded) answers of its workers."""

    status = serializers.CharField(read_only=True, help_text="open, complete, review or accepted")
    image = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()
    needs_review = serializers.SerializerMethodField()
    answers = TaskAnswerSerializer(many=True, source="live_answers")

    class Meta:
        model = Task
        fields = ["id", "status", "image", "result", "confidence", "needs_review", "answers"]

    @extend_schema_field(ReviewImageSerializer)
    def get_image(self, task: Task) -> dict:
        image = task.image
        return {
            "id": image.pk,
            "source_ref": image.source_ref,
            "image_url": entry_image_url(image, project_id=task.job.project_id),
            "thumbnail_url": entry_thumbnail_url(image, project_id=task.job.project_id),
            "width": image.width,
            "height": image.height,
        }

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_result(self, task: Task) -> dict | None:
        return stored.api_result(task.job.task_type, task.result)

    def get_needs_review(self, task: Task) -> bool:
        return task.status == TaskStatus.REVIEW


class AcceptInputSerializer(serializers.Serializer):
    """The reviewer's own answer, in the job's task-type shape; leave it out to accept the consolidated one."""

    labels = serializers.ListField(child=serializers.CharField(trim_whitespace=False), required=False)
    boxes = SubmitBoxSerializer(many=True, required=False)
    verdict = serializers.BooleanField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=2000)


class SendBackInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AnswerImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source_ref = serializers.CharField()


class JobAnswerSerializer(serializers.ModelSerializer):
    task = serializers.IntegerField(source="task_id")
    image = AnswerImageSerializer(source="task.image")
    worker = UserRefSerializer()
    status = serializers.CharField(read_only=True, help_text="submitted or discarded")
    seconds = serializers.FloatField(source="seconds_spent", allow_null=True)

    class Meta:
        model = Assignment
        fields = ["id", "task", "image", "worker", "answer", "status", "leased_at", "submitted_at", "seconds"]


class WorkerStatsSerializer(serializers.Serializer):
    worker = UserRefSerializer()
    answered = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(allow_null=True, help_text="Mean agreement with consolidated results")
