from django.contrib import admin

from labeling.models import LabelingJob, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "created_at"]
    raw_id_fields = ["project", "members"]


@admin.register(LabelingJob)
class LabelingJobAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "task_type", "status", "image_count", "completed_count", "created_at"]
    list_filter = ["status", "task_type"]
    raw_id_fields = ["project", "dataset", "team", "created_by"]
