"""Every dashboard page renders for a signed-in user, empty or not."""

import re

import pytest
from django.urls import reverse

LIST_PAGES = [
    "campaigns:campaign_list", "campaigns:template_list", "campaigns:link_list", "campaigns:linklist_list",
    "campaigns:wordspinner_list", "campaigns:trigger_list", "messaging:sender_list", "messaging:senderlist_list",
    "messaging:account_list", "home",
]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_list_pages_render_with_helpful_empty_state(admin_client, name):
    page = admin_client.get(reverse(name))
    assert page.status_code == 200
    assert b"Skip to content" in page.content


@pytest.mark.parametrize("name", [n for n in LIST_PAGES if n.endswith("_list") and "account" not in n])
def test_list_pages_require_login(client, db, name):
    assert client.get(reverse(name)).status_code == 302


ADMIN_MODELS = ["messaging_sender", "messaging_senderlist", "campaigns_campaign", "campaigns_template",
                "campaigns_link", "campaigns_linklist", "campaigns_wordspinner", "campaigns_trigger",
                "messaging_provideraccount"]


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_admin_changelist_and_add_pages_render(admin_client, model):
    assert admin_client.get(reverse(f"admin:{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:{model}_add")).status_code == 200


def test_the_menu_marks_only_the_section_of_the_page(admin_client, db):
    from messaging.models import GenericProviderConfig, ProviderAccount

    account = ProviderAccount.objects.create(name="Message Central", kind=ProviderAccount.Kind.GENERIC, api_key="k")
    GenericProviderConfig.objects.create(account=account, endpoint="https://api.example/sms")
    for url, section in ((reverse("providers:list"), "HTTP providers"),
                         (reverse("providers:detail", args=[account.pk]), "HTTP providers"),
                         (reverse("messaging:account_list"), "Provider accounts"),
                         (reverse("messaging:account_detail", args=[account.pk]), "Provider accounts"),
                         (reverse("campaigns:compose"), "Broadcasts"), (reverse("home"), "Overview")):
        menu = admin_client.get(url).content.decode().split('<nav aria-label="Main">')[1].split("</nav>")[0]
        assert re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', menu) == [section], url


EMPTY_STATES = re.compile(r'<section class="card empty">.*?</section>|<div class="empty">.*?</div>', re.DOTALL)


@pytest.mark.parametrize("name", [*LIST_PAGES, "campaigns:broadcast_list", "providers:list", "recipients:list_index"])
def test_every_empty_state_offers_a_way_forward(admin_client, mw_account, name):
    """An empty page says what to do next and has the button that does it."""
    page = admin_client.get(reverse(name)).content.decode()
    cards = EMPTY_STATES.findall(page)
    assert cards or name == "messaging:account_list"  # that one lists mw_account
    for card in cards:
        assert re.search(r'<a class="button[^"]*" href="/', card), card
