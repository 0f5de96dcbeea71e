from django.urls import reverse

from messaging.permissions import CALLBACK_URLS

# The side menu: (group, ((label, url name), …)).
NAVIGATION = (
    ("", (("Overview", "home"),)),
    ("Send", (("Campaigns", "campaigns:campaign_list"), ("Broadcasts", "campaigns:broadcast_list"),
              ("Transactional", "campaigns:otp"))),
    ("Audience", (("Recipient lists", "recipients:list_index"), ("Unsubscribe lists", "recipients:unsubscribe_index"))),
    ("Content", (("Templates", "campaigns:template_list"), ("Links", "campaigns:link_list"),
                 ("Link lists", "campaigns:linklist_list"), ("Word spinners", "campaigns:wordspinner_list"),
                 ("Triggers", "campaigns:trigger_list"))),
    ("Setup", (("Senders", "messaging:sender_list"), ("Sender lists", "messaging:senderlist_list"),
               ("Provider accounts", "messaging:account_list"), ("HTTP providers", "providers:list"),
               ("Callback URLs", "callbacks:settings"), ("API tokens", "messaging:api_tokens"),
               ("Audit trail", "messaging:audit"), ("Webhooks", "webhooks:list"))),
)

# Entries shown only to users with a permission (the pages answer 403 to the others).
PERMISSIONS = {
    "messaging:account_list": "messaging.view_provideraccount",
    "providers:list": "messaging.view_genericproviderconfig",
    "callbacks:settings": CALLBACK_URLS,
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
    groups = [(group, [(label, reverse(name)) for label, name in links
                       if name not in PERMISSIONS or user.has_perm(PERMISSIONS[name])])
              for group, links in NAVIGATION]
    urls = [url for _, links in groups for _, url in links]
    under = [url for url in urls if request.path.startswith(url) and (url != "/" or request.path == "/")]
    return {"navigation": groups, "navigation_current": max(under, key=len, default=None)}
