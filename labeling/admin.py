from django.contrib import admin

from labeling.models import Assignment, LabelingJob, Task, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "created_at"]
    raw_id_fields = ["project", "members"]


@admin.register(LabelingJob)
class LabelingJobAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "task_type", "status", "image_count", "completed_count", "created_at"]
    list_filter = ["status", "task_type"]
    raw_id_fields = ["project", "dataset", "team", "created_by"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "image", "status", "slots_taken", "answer_count", "confidence"]
    list_filter = ["status"]
    raw_id_fields = ["job", "image"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "task", "worker", "status", "leased_at", "expires_at", "submitted_at"]
    list_filter = ["status"]
    raw_id_fields = ["job", "task", "worker"]
