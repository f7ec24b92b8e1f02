from django import forms
from django.contrib import admin

from core.s3_regions import region_name_problem
from projects.models import Membership, Project, StorageConnection


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created_by", "created_at"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]
    list_select_related = ["project", "user"]
    autocomplete_fields = ["project", "user"]


class StorageConnectionAdminForm(forms.ModelForm):
    class Meta:
        model = StorageConnection
        fields = ["project", "name", "prefix", "region"]  # what the admin may change

    def clean_region(self) -> str:
        # The rule the API and the pages apply (projects.services.connection_create): a job must never meet a
        # region boto3 refuses.
        region = self.cleaned_data["region"]
        problem = region_name_problem(region)
        if problem:
            raise forms.ValidationError(f"{region!r} is {problem}.", code="invalid_region")
        return region


@admin.register(StorageConnection)
class StorageConnectionAdmin(admin.ModelAdmin):
    form = StorageConnectionAdminForm
    list_display = ["id", "name", "project", "bucket", "prefix", "access_key_id", "created_at"]
    search_fields = ["name", "bucket", "project__name"]
    list_select_related = ["project"]
    raw_id_fields = ["project", "created_by"]
    # Secrets are set through the API (encrypted there) and never shown; the admin only renames or deletes.
    exclude = ["secret_access_key_encrypted"]
    readonly_fields = ["bucket", "access_key_id", "created_by"]

    def has_add_permission(self, request) -> bool:
        return False
