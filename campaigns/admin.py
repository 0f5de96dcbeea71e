from django.contrib import admin, messages

from messaging.mirror_admin import MemberInline, MirroredAdmin

from .models import Campaign, Link, LinkList, Template, Trigger, WordSpinner
from .tasks import refresh_link_conversions

READ_ONLY = MirroredAdmin.readonly_fields


@admin.register(Campaign)
class CampaignAdmin(MirroredAdmin):
    mirror_fields = ("name", "start_date", "end_date", "is_default")
    fields = ["account", "name", "start_date", "end_date", "enabled", "is_default", *READ_ONLY]
    readonly_fields = ["is_default", *READ_ONLY]


@admin.register(Template)
class TemplateAdmin(MirroredAdmin):
    search_fields = ["name", "body", "remote_id"]
    fields = ["account", "name", "body", "enabled", *READ_ONLY]


@admin.register(Link)
class LinkAdmin(MirroredAdmin):
    mirror_fields = ("name", "url", "conversion", "clicks", "total_recipients")
    search_fields = ["name", "url", "remote_id"]
    fields = ["account", "name", "url", "bot_redirect", "preview_url", "enabled", "conversion", "clicks",
              "total_recipients", "conversion_checked_at", "conversion_error", *READ_ONLY]
    readonly_fields = ["conversion", "clicks", "total_recipients", "conversion_checked_at", "conversion_error",
                       *READ_ONLY]
    actions = [*MirroredAdmin.actions, "refresh_conversion"]

    @admin.action(description="Refresh link conversion", permissions=["change"])
    def refresh_conversion(self, request, queryset):
        refresh_link_conversions.delay(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, "Conversion refresh queued.", messages.SUCCESS)


class LinkListMemberInline(MemberInline):
    model = LinkList.links.through
    member_field = "link"
    autocomplete_fields = ["link"]
    verbose_name = "link"


@admin.register(LinkList)
class LinkListAdmin(MirroredAdmin):
    fields = ["account", "name", "enabled", *READ_ONLY]
    inlines = [LinkListMemberInline]


@admin.register(WordSpinner)
class WordSpinnerAdmin(MirroredAdmin):
    mirror_fields = ("name", "words")
    fields = ["account", "name", "words", "enabled", *READ_ONLY]


@admin.register(Trigger)
class TriggerAdmin(MirroredAdmin):
    mirror_fields = ("name", "short_url", "uuid")
    fields = ["account", "name", "enabled", "uuid", "short_url", "trigger_type_id", *READ_ONLY]
    readonly_fields = ["uuid", "short_url", "trigger_type_id", *READ_ONLY]
