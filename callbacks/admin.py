from django.contrib import admin

from .models import CallbackEvent


@admin.register(CallbackEvent)
class CallbackEventAdmin(admin.ModelAdmin):
    """The raw log, read-only: what a provider sent, when, and whether it has been applied."""

    list_display = ["id", "account", "kind", "received_at", "applied_at"]
    list_filter = ["kind", ("applied_at", admin.EmptyFieldListFilter)]
    list_select_related = ["account"]
    search_fields = ["=dedupe_key", "=buffer_id"]
    readonly_fields = ["account", "kind", "body", "dedupe_key", "received_at", "applied_at", "buffer_id"]
    date_hierarchy = "received_at"
    show_full_result_count = False  # a big table: no COUNT(*) per page
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
