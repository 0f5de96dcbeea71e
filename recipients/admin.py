from django.contrib import admin

from messaging.mirror_admin import MirroredAdmin, Unchangeable

from .consent import ERASED_PREFIX, consent_erase
from .models import ConsentEvent, ImportJob, RecipientList, Suppression, UnsubscribeList


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


@admin.register(ConsentEvent)
class ConsentEventAdmin(Unchangeable, admin.ModelAdmin):
    """The consent ledger: read-only and append-only (no delete); GDPR erasure is the one rewrite."""

    list_display = ["created_at", "account", "phone", "kind", "source", "actor"]
    list_filter = ["kind", "source", "account"]
    search_fields = ["=phone"]
    list_select_related = ["account", "actor"]
    readonly_fields = ["account", "phone", "kind", "source", "evidence", "actor", "created_at"]
    show_full_result_count = False
    actions = ["erase_numbers"]

    def has_erase_permission(self, request):
        return request.user.has_perm("recipients.erase_consentevent")

    @admin.action(description="GDPR erasure: replace these numbers with a hash", permissions=["erase"])
    def erase_numbers(self, request, queryset):
        phones = set(queryset.exclude(phone__startswith=ERASED_PREFIX).values_list("phone", flat=True))
        rows = sum(consent_erase(phone=phone, actor=request.user) for phone in phones)
        self.message_user(request, f"{len(phones)} number(s) erased from {rows} ledger row(s).")


@admin.register(Suppression)
class SuppressionAdmin(Unchangeable, admin.ModelAdmin):
    """Derived from the ledger (recipients.consent.suppressions_rebuild): read-only here."""

    list_display = ["phone", "account", "event"]
    search_fields = ["=phone"]
    list_select_related = ["account", "event"]
    raw_id_fields = ["event"]
    show_full_result_count = False
