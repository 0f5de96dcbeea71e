"""One admin base for every mirrored model: sync state at a glance, push/pull/enable/disable,
CSV export. Edits go through `mirror_changed`, so saving in the admin pushes to the provider."""

import csv

from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.utils.html import format_html

from .mirror import SyncState
from .spreadsheets import neutralise
from .sync import resources
from .sync.push import mirror_changed
from .tasks import pull_mirrors, push_mirror

SYNC_COLOURS = {SyncState.SYNCED: "#15803d", SyncState.PENDING: "#b45309", SyncState.FAILED: "#b91c1c",
                SyncState.DISABLED: "#6b7280"}


class Echo:
    def write(self, value):
        return value


class MirroredAdmin(admin.ModelAdmin):
    mirror_fields: tuple[str, ...] = ("name",)
    list_filter = ["account", "enabled", "sync_state"]
    search_fields = ["name", "remote_id"]
    readonly_fields = ["remote_id", "sync_state", "synced_at", "sync_error", "created_at", "updated_at"]
    list_select_related = ["account"]
    show_full_result_count = False
    actions = ["push_now", "pull_now", "enable", "disable", "export_csv"]

    def get_list_display(self, request):
        return [*self.mirror_fields, "account", "enabled", "sync_badge", "remote_id", "synced_at"]

    @admin.display(description="Sync", ordering="sync_state")
    def sync_badge(self, obj):
        return format_html('<span style="color:{};font-weight:600" title="{}">{}</span>',
                           SYNC_COLOURS.get(obj.sync_state, "inherit"), obj.sync_error,
                           obj.get_sync_state_display())

    def save_model(self, request, obj, form, change):
        # The push is queued on commit, after save_related() has stored the memberships too.
        mirror_changed(obj)

    def delete_model(self, request, obj):
        # Deleting means disabling remotely; the row stays, disabled, as MessageWhiz keeps it.
        obj.enabled = False
        mirror_changed(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    @admin.action(description="Push selected to MessageWhiz now")
    def push_now(self, request, queryset):
        for obj in queryset:
            push_mirror.delay(obj._meta.label, obj.pk)
        self.message_user(request, f"Queued {queryset.count()} push(es).", messages.SUCCESS)

    @admin.action(description="Pull this kind from MessageWhiz now")
    def pull_now(self, request, queryset):
        key = resources.for_model(self.model).key
        for account_id in set(queryset.values_list("account_id", flat=True)):
            pull_mirrors.delay(account_id, [key])
        self.message_user(request, "Pull queued; refresh in a moment.", messages.SUCCESS)

    @admin.action(description="Enable selected")
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected")
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled):
        changed = 0
        for obj in queryset.filter(enabled=not enabled):
            obj.enabled = enabled
            mirror_changed(obj)
            changed += 1
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {changed} object(s).")

    @admin.action(description="Export selected as CSV")
    def export_csv(self, request, queryset):
        columns = ["id", *self.mirror_fields, "account", "enabled", "sync_state", "remote_id", "synced_at",
                   "sync_error"]
        writer = csv.writer(Echo())
        rows = (writer.writerow([neutralise(getattr(obj, c)) for c in columns]) for obj in queryset.iterator())
        response = StreamingHttpResponse(
            (line for part in ([writer.writerow(columns)], rows) for line in part), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="{self.model._meta.model_name}s.csv"'
        return response
