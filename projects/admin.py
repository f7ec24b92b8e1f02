from django.contrib import admin

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


@admin.register(StorageConnection)
class StorageConnectionAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "project", "bucket", "prefix", "access_key_id", "created_at"]
    search_fields = ["name", "bucket", "project__name"]
    list_select_related = ["project"]
    raw_id_fields = ["project", "created_by"]
    # Secrets are set through the API (encrypted there) and never shown; the admin only renames or deletes.
    exclude = ["secret_access_key_encrypted"]
    readonly_fields = ["bucket", "access_key_id", "created_by"]

    def has_add_permission(self, request) -> bool:
        return False
