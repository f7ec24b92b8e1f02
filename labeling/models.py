"""Teams, labeling jobs, their tasks (one per image) and assignments (one worker's lease on one slot).

A task has `workers_per_image` slots. `Task.slots_taken` counts the live leases plus the submitted answers of
the task, so the queue finds an open slot from the task row alone; the services keep it exact and the partial
unique indexes below make double assignment impossible whatever the services do: one worker holds or has
answered at most one slot of a task, and holds at most one live lease per job. Answers stay stored per
assignment, so review, the output manifest and per-worker statistics can be built on them later.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from datasets.models import Dataset, Image
from projects.models import Project


class Team(models.Model):
    """A group of project members who are handed the work of jobs given to the team."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=63)
    # Members must be members of the project (checked by labeling.services.teams); a user may be in several teams.
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="labeling_teams", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="team_unique_project_name")]

    def __str__(self) -> str:
        return self.name


class TaskType(models.TextChoices):
    CLASSIFICATION = "classification", "Single-label classification"
    MULTI_LABEL = "multi_label", "Multi-label classification"
    BOUNDING_BOX = "bounding_box", "Bounding boxes"
    VERIFICATION = "verification", "Label verification"


class Selection(models.TextChoices):
    ALL = "all", "Every entry"
    UNLABELED = "unlabeled", "Unlabeled entries"
    WITH_LABELS = "with_labels", "Entries with one of some labels"


class JobStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    EXPIRED = "expired", "Expired"  # past its lifetime before every image was done


class LabelingJob(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labeling_jobs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="labeling_jobs")
    name = models.CharField(max_length=63)
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    labels = models.JSONField(default=list, help_text="The label names workers choose from, in order")
    # Renames and deletions of the dataset's labels since the job was made, {old name: new name or None}, so
    # that an answer given under an old name is written under the label's name of the moment.
    label_renames = models.JSONField(default=dict, blank=True)
    instructions = models.TextField(blank=True, default="")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="jobs")
    workers_per_image = models.PositiveSmallIntegerField(default=1)
    task_time_limit_s = models.PositiveIntegerField(default=300)
    lifetime_s = models.PositiveIntegerField(default=30 * 24 * 3600)
    selection = models.CharField(max_length=12, choices=Selection.choices, default=Selection.ALL)
    selection_labels = models.JSONField(default=list, blank=True, help_text="With selection with_labels")
    label_attribute_name = models.CharField(max_length=127)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.IN_PROGRESS)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    # Counters, kept by the services: images (tasks), tasks complete or accepted, tasks waiting for review,
    # and entries of the selection left out because the image's size is unknown (bounding-box jobs).
    image_count = models.PositiveIntegerField(default=0)
    completed_count = models.PositiveIntegerField(default=0)
    review_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    # A write-back of the job's complete results is queued (labeling.services.results): set by the
    # consolidation that finds it unset, cleared by the write-back when it starts, so one is queued at a time.
    write_back_queued = models.BooleanField(default=False, db_default=False)

    class Meta:
        verbose_name = "labeling job"
        ordering = ["project_id", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="labelingjob_unique_project_name"),
            models.CheckConstraint(
                condition=Q(workers_per_image__gte=1, workers_per_image__lte=9), name="labelingjob_workers_1_9"
            ),
            models.CheckConstraint(condition=Q(task_type__in=TaskType.values), name="labelingjob_task_type_valid"),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="labelingjob_status_valid"),
            models.CheckConstraint(condition=Q(selection__in=Selection.values), name="labelingjob_selection_valid"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="labelingjob_status_expires")]

    def __str__(self) -> str:
        return self.name


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"  # waiting for answers (some slots may be leased)
    COMPLETE = "complete", "Complete"  # consolidated; written to the entry once `written_at` is set
    REVIEW = "review", "Needs review"  # consolidated without a clear answer; nothing written
    ACCEPTED = "accepted", "Accepted"  # a reviewer accepted it


class Task(models.Model):
    """One image of a job, with `workers_per_image` slots."""

    job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="labeling_tasks", db_index=False)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    slots_taken = models.PositiveSmallIntegerField(default=0, help_text="Live leases + submitted answers")
    answer_count = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(null=True, blank=True, help_text="The consolidated answer")
    confidence = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the result went into the dataset entry. A complete task waits for the job's batched write-back;
    # an accepted one is written at once; a verification result is never written (it changes no label).
    written_at = models.DateTimeField(null=True, blank=True)
    # The last review decision: who accepted the task or sent it back, when, and why (a send-back's reason).
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True, db_default="")

    class Meta:
        ordering = ["job_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "image"], name="task_unique_job_image"),
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.CheckConstraint(
                condition=Q(slots_taken__lte=9, answer_count__lte=models.F("slots_taken")),
                name="task_slots_bounded",
            ),
        ]
        indexes = [
            # The queue: the oldest open task of a job first.
            models.Index(fields=["job", "id"], name="task_queue", condition=Q(status="open")),
            models.Index(fields=["job", "status"], name="task_job_status"),
            models.Index(fields=["image"], name="task_image"),
            # Complete results not written to their entries yet (the write-back's work list).
            models.Index(
                fields=["job", "id"], name="task_write_back", condition=Q(status="complete", written_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.image_id}"


class AssignmentStatus(models.TextChoices):
    LEASED = "leased", "Leased"
    SUBMITTED = "submitted", "Submitted"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"
    DISCARDED = "discarded", "Discarded"  # a submitted answer set aside when a reviewer sent the task back


LIVE = (AssignmentStatus.LEASED, AssignmentStatus.SUBMITTED)
# Whoever holds or held one of these on a task is not given the task again (a discarded answer's worker neither).
TAKEN = (*LIVE, AssignmentStatus.DISCARDED)


class Assignment(models.Model):
    """One worker's lease on one slot of a task, and their answer once submitted."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    job = models.ForeignKey(LabelingJob, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.LEASED)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"),
            # A worker never takes two slots of one image (a released or expired lease does not count).
            models.UniqueConstraint(
                fields=["task", "worker"], name="assignment_unique_task_worker_live", condition=Q(status__in=LIVE)
            ),
            # A worker holds at most one live lease per job: asking again gives the same one back.
            models.UniqueConstraint(
                fields=["job", "worker"], name="assignment_unique_job_worker_leased", condition=Q(status="leased")
            ),
        ]
        indexes = [
            models.Index(fields=["task", "status"], name="assignment_task_status"),
            # The answers of a job (review, per-worker statistics), by worker or all, in id order.
            models.Index(
                fields=["job", "id"], name="assignment_job_id", condition=Q(status__in=["submitted", "discarded"])
            ),
            models.Index(fields=["job", "worker", "status"], name="assignment_job_worker_status"),
            # Reclaiming expired leases.
            models.Index(fields=["expires_at"], name="assignment_leased_expires", condition=Q(status="leased")),
        ]

    def __str__(self) -> str:
        return f"{self.task_id}:{self.worker_id}:{self.status}"
