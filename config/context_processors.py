from django.urls import reverse

from messaging.permissions import CALLBACK_URLS

# The side menu: (group, ((label, url name), …)).
NAVIGATION = (
    ("", (("Overview", "home"),)),
    ("Send", (("Campaigns", "campaigns:campaign_list"), ("Broadcasts", "campaigns:broadcast_list"),
              ("Approvals", "campaigns:approvals"), ("Transactional", "campaigns:otp"), ("Costs", "campaigns:costs"))),
    ("Audience", (("Recipient lists", "recipients:list_index"), ("Unsubscribe lists", "recipients:unsubscribe_index"))),
    ("Content", (("Templates", "campaigns:template_list"), ("Links", "campaigns:link_list"),
                 ("Link lists", "campaigns:linklist_list"), ("Word spinners", "campaigns:wordspinner_list"),
                 ("Triggers", "campaigns:trigger_list"))),
    ("Setup", (("Senders", "messaging:sender_list"), ("Sender lists", "messaging:senderlist_list"),
               ("Provider accounts", "messaging:account_list"), ("HTTP providers", "providers:list"),
               ("Provider health", "campaigns:provider_health"),
               ("Callback URLs", "callbacks:settings"), ("API tokens", "messaging:api_tokens"),
               ("Audit trail", "messaging:audit"), ("Webhooks", "webhooks:list"))),
)

# The permission each entry's page needs (it answers 403 to the others): the menu shows only those.
PERMISSIONS = {
    "home": "campaigns.view_broadcast",
    "campaigns:campaign_list": "campaigns.view_campaign",
    "campaigns:broadcast_list": "campaigns.view_broadcast",
    "campaigns:approvals": "campaigns.view_broadcast",
    "campaigns:otp": "campaigns.send_broadcast",
    "recipients:list_index": "recipients.view_recipientlist",
    "recipients:unsubscribe_index": "recipients.view_unsubscribelist",
    "campaigns:template_list": "campaigns.view_template",
    "campaigns:link_list": "campaigns.view_link",
    "campaigns:linklist_list": "campaigns.view_linklist",
    "campaigns:wordspinner_list": "campaigns.view_wordspinner",
    "campaigns:trigger_list": "campaigns.view_trigger",
    "messaging:sender_list": "messaging.view_sender",
    "messaging:senderlist_list": "messaging.view_senderlist",
    "messaging:account_list": "messaging.view_provideraccount",
    "providers:list": "messaging.view_genericproviderconfig",
    "campaigns:provider_health": "messaging.view_provideraccount",
    "callbacks:settings": CALLBACK_URLS,
    "campaigns:costs": "campaigns.view_broadcast",
    "messaging:audit": "messaging.view_auditevent",
    "messaging:api_tokens": "messaging.add_apitoken",
    "webhooks:list": "messaging.view_webhookendpoint",
}


def navigation(request):
    """The menu, and which entry the page belongs to: the longest entry URL the path starts with
    (/providers/generic/1/ is under "HTTP providers", not also under "Provider accounts" at /providers/)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    groups = [(group, [(label, reverse(name)) for label, name in links if user.has_perm(PERMISSIONS[name])])
              for group, links in NAVIGATION]
    groups = [(group, links) for group, links in groups if links]
    urls = [url for _, links in groups for _, url in links]
    under = [url for url in urls if request.path.startswith(url) and (url != "/" or request.path == "/")]
    return {"navigation": groups, "navigation_current": max(under, key=len, default=None)}
