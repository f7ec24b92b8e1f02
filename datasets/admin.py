from django.contrib import admin

from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "project", "type", "status", "total_entries", "labeled_entries", "created_at"]
    list_filter = ["type", "status"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]
    raw_id_fields = ["project", "created_by"]
    readonly_fields = ["total_entries", "labeled_entries", "error_entries", "total_labels"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "dataset"]
    search_fields = ["name"]
    list_select_related = ["dataset"]
    raw_id_fields = ["dataset"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    # 250,000-row tables: no counting of the whole table, no joins in the list.
    list_display = ["id", "source_ref", "dataset_id", "width", "height", "is_labeled", "has_errors"]
    list_filter = ["is_labeled", "has_errors", "origin"]
    search_fields = ["=source_ref"]
    raw_id_fields = ["dataset", "created_by"]
    show_full_result_count = False


@admin.register(ImageLabel)
class ImageLabelAdmin(admin.ModelAdmin):
    list_display = ["id", "image_id", "label", "origin", "created_at"]
    raw_id_fields = ["image", "label", "created_by"]
    list_select_related = ["label"]
    show_full_result_count = False


@admin.register(BoundingBox)
class BoundingBoxAdmin(admin.ModelAdmin):
    list_display = ["id", "image_id", "label", "left", "top", "width", "height", "origin"]
    raw_id_fields = ["image", "label", "created_by"]
    list_select_related = ["label"]
    show_full_result_count = False
