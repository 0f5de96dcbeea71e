"""One admin base for every mirrored model: sync state at a glance, push/pull/enable/disable,
CSV export. Edits go through `mirror_changed`, so saving in the admin pushes to the provider."""

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from .mirror import SyncState
from .mirror_views import other_account_members
from .selectors import mirror_accounts
from .spreadsheets import neutralise
from .sync import resources
from .sync.pull import mirror_pull_later
from .sync.push import mirror_changed
from .tasks import push_mirror

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
    change_list_template = "mirror/admin_change_list.html"  # adds "Pull from MessageWhiz" (no selection needed)

    def get_list_display(self, request):
        return [*self.mirror_fields, "account", "enabled", "sync_badge", "remote_id", "synced_at"]

    @admin.display(description="Sync", ordering="sync_state")
    def sync_badge(self, obj):
        return format_html('<span style="color:{};font-weight:600" title="{}">{}</span>',
                           SYNC_COLOURS.get(obj.sync_state, "inherit"), obj.sync_error,
                           obj.get_sync_state_display())

    def get_readonly_fields(self, request, obj=None):
        # An object lives in one provider account: its remote id means nothing in another.
        return [*self.readonly_fields, "account"] if obj is not None else self.readonly_fields

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_pull"
        return [path("pull/", self.admin_site.admin_view(require_POST(self.pull_all_view)), name=name),
                *super().get_urls()]

    def pull_all_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        self._pull(request, mirror_accounts().values_list("pk", flat=True))
        return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def _pull(self, request, account_ids):
        account_ids = list(account_ids)
        if mirror_pull_later(account_ids=account_ids, key=resources.for_model(self.model).key):
            self.message_user(request, "Pull from MessageWhiz queued; refresh in a moment.", messages.SUCCESS)
        elif account_ids:
            self.message_user(request, "A pull from MessageWhiz is already under way; refresh in a moment.",
                              messages.INFO)
        else:
            self.message_user(request, "No active MessageWhiz account to pull from.", messages.ERROR)

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

    @admin.action(description="Push selected to MessageWhiz now", permissions=["change"])
    def push_now(self, request, queryset):
        for obj in queryset:
            push_mirror.delay(obj._meta.label, obj.pk)
        self.message_user(request, f"Queued {queryset.count()} push(es).", messages.SUCCESS)

    @admin.action(description="Pull this kind from MessageWhiz now (for the selected rows' accounts)",
                  permissions=["change"])
    def pull_now(self, request, queryset):
        self._pull(request, queryset.values_list("account_id", flat=True).distinct())

    @admin.action(description="Enable selected", permissions=["change"])
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected", permissions=["change"])
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled):
        changed = 0
        for obj in queryset.filter(enabled=not enabled):
            obj.enabled = enabled
            mirror_changed(obj)
            changed += 1
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {changed} object(s).")

    @admin.action(description="Export selected as CSV", permissions=["view"])
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


class SameAccountMembers(forms.BaseInlineFormSet):
    member_field = ""

    def clean(self):
        super().clean()
        account = self.instance.account if self.instance.account_id else None
        for form in self.forms:
            member = getattr(form, "cleaned_data", {}).get(self.member_field)
            if account and member and not form.cleaned_data.get("DELETE"):
                for error in other_account_members([member], account):
                    form.add_error(self.member_field, error)


class MemberInline(admin.TabularInline):
    """A list's members, edited in place; only objects of the list's own provider account can join."""

    member_field = ""
    formset = SameAccountMembers
    extra = 1

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.member_field = self.member_field
        return formset


class Unchangeable:
    """An admin that only shows rows: services write them (a ledger, a trail)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
