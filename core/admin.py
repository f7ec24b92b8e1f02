from django.contrib import admin

from core.models import TokenActivity


@admin.register(TokenActivity)
class TokenActivityAdmin(admin.ModelAdmin):
    """Read-only: uses are written by the token check; deleting the token (DRF's admin) deletes its row."""

    list_display = ["__str__", "user", "last_used_at"]
    list_select_related = ["token__user"]
    search_fields = ["token__user__username"]

    @admin.display(ordering="token__user__username")
    def user(self, obj):
        return obj.token.user

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
