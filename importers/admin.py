from django.contrib import admin

from importers.models import ImportJob, ImportLineError


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "dataset", "status", "seen", "imported", "skipped", "failed", "created_at"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["dataset", "created_by"]
    list_select_related = ["dataset"]


@admin.register(ImportLineError)
class ImportLineErrorAdmin(admin.ModelAdmin):
    list_display = ["id", "job_id", "line", "code", "source_ref"]
    list_filter = ["code"]
    raw_id_fields = ["job"]
    show_full_result_count = False
