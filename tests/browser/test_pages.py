"""Every main page, filled with data, at desktop width and on a phone-width screen.

`make screenshots` saves each of them (page-*.png, phone-*.png).
"""

import pytest
from django.urls import reverse

from campaigns.models import Broadcast, Campaign
from campaigns.tasks import estimate_broadcast, submit_broadcast
from messaging.messagewhiz.client import MessageWhizClient
from messaging.models import Sender
from messaging.sync.pull import mirror_pull_account
from recipients.models import RecipientList

pytestmark = pytest.mark.slow


@pytest.fixture
def filled(mw_account, sandbox, settings, live_server, transactional_db):
    """A campaign, a sender and a list pulled from MessageWhiz; a sent broadcast and a reviewed draft."""
    settings.PUBLIC_BASE_URL = live_server.url
    mw = MessageWhizClient(sandbox.url, sandbox.api_key)
    mw.campaign_create(name="Autumn")
    mw.sender_create(name="ShopCo")
    mw.recipient_list_create(name="Customers", numbers=[f"38050123{i:04d}" for i in range(60)])
    mirror_pull_account(mw_account, ["campaign", "sender", "recipient_list"])
    campaign, customers = Campaign.objects.get(name="Autumn"), RecipientList.objects.get(name="Customers")

    def broadcast(name):
        made = Broadcast.objects.create(account=mw_account, campaign=campaign, name=name,
                                        body="Hi {{first_name}}, 20% off in {{custom}} today")
        made.senders.set(Sender.objects.all())
        made.recipient_lists.set([customers])
        return made

    sent, draft = broadcast("Autumn sale"), broadcast("Weekend")
    submit_broadcast.apply(args=[sent.pk], throw=True)
    estimate_broadcast.apply(args=[draft.pk], throw=True)
    return {"broadcast": sent, "draft": draft, "campaign": campaign, "list": customers, "account": mw_account}


def main_pages(filled) -> list[tuple[str, str]]:
    return [
        ("overview", reverse("home")),
        ("broadcasts", reverse("campaigns:broadcast_list")),
        ("broadcast", reverse("campaigns:broadcast_detail", args=[filled["broadcast"].pk])),
        ("review", reverse("campaigns:broadcast_review", args=[filled["draft"].pk])),
        ("compose", reverse("campaigns:compose")),
        ("transactional", reverse("campaigns:otp")),
        ("campaigns", reverse("campaigns:campaign_list")),
        ("campaign", reverse("campaigns:campaign_detail", args=[filled["campaign"].pk])),
        ("import", reverse("recipients:import_upload", args=["recipients"])),
        ("recipient-lists", reverse("recipients:list_index")),
        ("recipient-list", reverse("recipients:list_detail", args=["recipients", filled["list"].pk])),
        ("unsubscribe-lists", reverse("recipients:unsubscribe_index")),
        ("templates", reverse("campaigns:template_list")),
        ("links", reverse("campaigns:link_list")),
        ("link-lists", reverse("campaigns:linklist_list")),
        ("word-spinners", reverse("campaigns:wordspinner_list")),
        ("triggers", reverse("campaigns:trigger_list")),
        ("senders", reverse("messaging:sender_list")),
        ("sender-lists", reverse("messaging:senderlist_list")),
        ("provider-accounts", reverse("messaging:account_list")),
        ("provider-account", reverse("messaging:account_detail", args=[filled["account"].pk])),
        ("http-providers", reverse("providers:list")),
        ("callback-urls", reverse("callbacks:settings")),
    ]


def test_every_main_page_renders_and_fits_a_phone_screen(signed_in, live_server, filled, shot):
    page = signed_in
    pages = main_pages(filled)
    for number, (name, path) in enumerate(pages, start=1):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (path, response.status)
        assert page.locator("main h1").first.is_visible(), path
        shot(page, f"page-{number:02d}-{name}")

    page.set_viewport_size({"width": 390, "height": 844})
    too_wide = {}
    for number, (name, path) in enumerate(pages, start=1):
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            too_wide[path] = overflow
        shot(page, f"phone-{number:02d}-{name}")
    assert too_wide == {}, f"wider than a 390px screen by (px): {too_wide}"
