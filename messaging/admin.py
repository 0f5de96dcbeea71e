from django.contrib import admin, messages

from .forms import RETRY_POLICY_FIELDS, ProviderAccountForm
from .mirror_admin import MemberInline, MirroredAdmin, Unchangeable
from .models import ApiToken, AuditEvent, FailoverRoute, ProviderAccount, Sender, SenderList


class FailoverRouteInline(admin.TabularInline):
    """The accounts a broadcast goes through, in order, while this one's circuit breaker is open."""

    model = FailoverRoute
    fk_name = "account"
    fields = ["position", "route"]
    extra = 1
    verbose_name = "failover route"


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    inlines = [FailoverRouteInline]
    list_display = ["name", "kind", "base_url", "api_key_hint", "is_active", "updated_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    readonly_fields = ["api_key_hint", "created_at", "updated_at"]
    actions = ["rotate_callback_tokens"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "base_url", "api_key", "api_key_hint", "currency", "default_price_per_part",
                           "is_active", "created_at", "updated_at"]}),
        ("Four-eyes approval", {"fields": ["approval_threshold", "superusers_approve_own"]}),
        ("Circuit breaker", {"fields": ["breaker_error_rate", "breaker_min_requests", "breaker_cooldown"],
                             "description": "Taken out of rotation (its failover routes carry the traffic) "
                                            "while its recent error rate is this high; probed after the cool-down."}),
        ("Retry undelivered", {"classes": ["collapse"], "fields": ["retry_enabled", *RETRY_POLICY_FIELDS],
                               "description": "Resend messages that were not delivered, once, through another "
                                              "route. New broadcasts of this account start with this policy."}),
    ]

    @admin.display(description="API key")
    def api_key_hint(self, obj):
        return obj.api_key_hint

    @admin.action(description="Rotate callback token (providers must be given the new URLs)",
                  permissions=["change"])
    def rotate_callback_tokens(self, request, queryset):
        for account in queryset:
            account.rotate_callback_token()
        self.message_user(request, f"Rotated {queryset.count()} callback token(s).", messages.SUCCESS)


@admin.register(Sender)
class SenderAdmin(MirroredAdmin):
    fields = ["account", "name", "enabled", *MirroredAdmin.readonly_fields]


class SenderListMemberInline(MemberInline):
    model = SenderList.senders.through
    member_field = "sender"
    autocomplete_fields = ["sender"]
    verbose_name = "member"


@admin.register(SenderList)
class SenderListAdmin(MirroredAdmin):
    fields = ["account", "name", "enabled", *MirroredAdmin.readonly_fields]
    inlines = [SenderListMemberInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    fields = ["name", "user", "scopes", "is_active", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, key = ApiToken.issue(name=obj.name, user=obj.user, scopes=obj.scopes)
        obj.pk, obj.prefix, obj.key_hash = token.pk, token.prefix, token.key_hash
        # Shown once: only its hash is kept.
        self.message_user(request, f"New token for {obj.name}: {key} — copy it now, it won't be shown again.",
                          messages.WARNING)


# --- Generic HTTP providers (messaging.providers) --------------------------------------------------------
from .models import GenericProviderConfig, InboundMessage, WhatsAppTemplate  # noqa: E402


@admin.register(GenericProviderConfig)
class GenericProviderConfigAdmin(admin.ModelAdmin):
    """Read-mostly: the configuration (with its write-only secrets) is edited on the provider pages."""

    list_display = ["account", "channel", "method", "body_format", "batch_enabled", "max_concurrency", "rate_limit",
                    "dlr_enabled", "is_default"]
    list_filter = ["channel", "method", "dlr_enabled"]
    list_select_related = ["account"]
    exclude = ["password", "headers", "params", "endpoint"]  # may hold credentials: write-only
    readonly_fields = ["display_endpoint"]
    raw_id_fields = ["account", "optout_list"]


@admin.register(WhatsAppTemplate)
class WhatsAppTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "account", "header_type", "button_type", "limited_time_offer"]
    list_filter = ["header_type", "button_type", "limited_time_offer"]
    list_select_related = ["account"]
    search_fields = ["name"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "account", "phone", "text", "opted_out", "auto_replied"]
    list_filter = ["opted_out", "auto_replied"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    search_fields = ["phone"]
    show_full_result_count = False
    readonly_fields = ["account", "phone", "text", "provider_message_id", "raw", "received_at", "opted_out",
                       "auto_replied"]


@admin.register(AuditEvent)
class AuditEventAdmin(Unchangeable, admin.ModelAdmin):
    """Read only: the trail is append-only (its page is /audit/)."""

    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "ip"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "detail"]
