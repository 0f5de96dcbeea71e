from django.urls import include, path

from messaging.mirror_views import MirrorPages

from . import broadcast_views, compliance_views, compose_views, otp_views, tasks, views
from .forms import WordSpinnerForm
from .models import Campaign, Link, LinkList, Template, Trigger, WordSpinner

app_name = "campaigns"

PAGES = {
    "campaigns": MirrorPages(model=Campaign, fields=["name", "start_date", "end_date"],
                             columns=("name", "start_date", "end_date"),
                             actions=[("Broadcasts and figures", "campaigns:campaign_detail")],
                             help_text="A campaign groups broadcasts under one name for a period of time."),
    "templates": MirrorPages(model=Template, fields=["name", "body", "dlt_template_id", "dlt_entity_id"],
                             search=("name", "body"),
                             help_text="Reusable message texts; tokens like {{first_name}} are filled per recipient."),
    "links": MirrorPages(model=Link, fields=["name", "url", "bot_redirect", "preview_url"],
                         columns=("name", "url", "clicks", "conversion"), search=("name", "url"),
                         help_text="Tracked links, inserted into messages as {{link:ID}}.",
                         panel="mirror/link_conversion.html",
                         object_actions={"refresh": ("Refresh conversion", tasks.refresh_link_conversions)}),
    "link-lists": MirrorPages(model=LinkList, fields=["name", "links"],
                              actions=[("Add new links", "campaigns:linklist_add_links"),
                                       ("Import links from a file", "campaigns:linklist_import")],
                              help_text="Links spread evenly over a broadcast's recipients: {{link_list:ID}}."),
    "word-spinners": MirrorPages(model=WordSpinner, fields=["name", "words"], form_class=WordSpinnerForm,
                                 help_text="Synonyms picked at random per message: {{word_spinner:ID}}."),
    "triggers": MirrorPages(model=Trigger, fields=["name"], columns=("name", "short_url"),
                            help_text="A trigger holds a broadcast back until its short URL is opened."),
}

urlpatterns = [
    *(path(f"{prefix}/", include(pages.urls())) for prefix, pages in PAGES.items()),
    path("campaigns/<int:pk>/broadcasts/", views.campaign_detail, name="campaign_detail"),
    path("link-lists/<int:pk>/add-links/", views.link_list_add_links, name="linklist_add_links"),
    path("link-lists/<int:pk>/import/", views.link_list_import_file, name="linklist_import"),
    path("otp/", otp_views.otp_page, name="otp"),
    path("broadcasts/", broadcast_views.broadcast_list, name="broadcast_list"),
    path("broadcasts/new/", compose_views.compose, name="compose"),
    path("broadcasts/<int:pk>/edit/", compose_views.compose, name="broadcast_edit"),
    path("broadcasts/<int:pk>/duplicate/", compose_views.duplicate, name="broadcast_duplicate"),
    path("broadcasts/<int:pk>/delete/", compose_views.delete, name="broadcast_delete"),
    path("broadcasts/<int:pk>/test/", compose_views.test_send, name="broadcast_test_send"),
    path("broadcasts/<int:pk>/review/", compose_views.review, name="broadcast_review"),
    path("broadcasts/<int:pk>/estimate/", compose_views.re_estimate, name="broadcast_estimate"),
    path("broadcasts/<int:pk>/confirm/", compose_views.confirm, name="broadcast_confirm"),
    path("recurring/<int:pk>/stop/", compose_views.stop_recurrence, name="recurrence_stop"),
    path("broadcasts/<int:pk>/", broadcast_views.broadcast_detail, name="broadcast_detail"),
    path("broadcasts/<int:pk>/figures/", broadcast_views.broadcast_figures_partial, name="broadcast_figures"),
    path("broadcasts/<int:pk>/messages.<str:fmt>", broadcast_views.broadcast_export, name="broadcast_export"),
    path("broadcasts/<int:pk>/cancel/", broadcast_views.broadcast_cancel_view, name="broadcast_cancel"),
    path("broadcasts/<int:pk>/sending/", broadcast_views.broadcast_dispatch, name="broadcast_dispatch"),
    path("broadcasts/<int:pk>/abtest/stop/", broadcast_views.abtest_stop_view, name="abtest_stop"),
    path("broadcasts/<int:pk>/continue/", broadcast_views.broadcast_continue, name="broadcast_continue"),
    path("accounts/<int:pk>/compliance/", compliance_views.compliance_page, name="compliance"),
    path("accounts/<int:pk>/compliance/consent.csv", compliance_views.consent_export, name="consent_export"),
    path("accounts/<int:pk>/compliance/consent/", compliance_views.consent_change, name="consent_change"),
    path("accounts/<int:pk>/compliance/erase/", compliance_views.consent_erase_view, name="consent_erase"),
    path("api/consent", compliance_views.api_consent, name="api_consent"),
    path("api/otp/send", otp_views.api_otp_send, name="api_otp_send"),
    path("api/otp/verify", otp_views.api_otp_verify, name="api_otp_verify"),
]
