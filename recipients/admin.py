from django.contrib import admin

from messaging.mirror_admin import MirroredAdmin

from .models import ImportJob, RecipientList, UnsubscribeList


@admin.register(RecipientList)
class RecipientListAdmin(MirroredAdmin):
    mirror_fields = ("name", "recipient_count")
    fields = ["account", "name", "enabled", "recipient_count", *MirroredAdmin.readonly_fields]
    readonly_fields = ["recipient_count", *MirroredAdmin.readonly_fields]


@admin.register(UnsubscribeList)
class UnsubscribeListAdmin(MirroredAdmin):
    mirror_fields = ("name", "member_count")
    fields = ["account", "name", "enabled", "member_count", *MirroredAdmin.readonly_fields]
    readonly_fields = ["member_count", *MirroredAdmin.readonly_fields]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Read-only: imports are started from the dashboard wizard or `manage.py import_recipients`."""

    list_display = ["pk", "source_name", "kind", "mode", "status", "inserted", "total", "wrong", "duplicate",
                    "created_at"]
    list_filter = ["kind", "status", "mode"]
    search_fields = ["source_name", "list_name"]
    list_select_related = ["recipient_list", "unsubscribe_list"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
