"""Every dashboard page renders for a signed-in user, empty or not."""

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
