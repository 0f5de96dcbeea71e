"""Link conversion from /api/3/details/linkConversion, refreshed on demand and by beat."""

from django.urls import reverse

from campaigns.models import Link
from campaigns.tasks import refresh_link_conversions
from messaging.messagewhiz.client import MessageWhizClient
from messaging.mirror import SyncState


def test_conversion_is_fetched_and_shown(admin_client, mw_account, sandbox, audience):
    mw = MessageWhizClient(sandbox.url, sandbox.api_key)
    remote = mw.link_create(name="Shop", url="https://shop.example.com")
    link = Link.objects.create(account=mw_account, name="Shop", url="https://shop.example.com",
                               remote_id=remote["id"], sync_state=SyncState.SYNCED)
    # Two recipients get a message with the link; one of them clicks it.
    mw.broadcast_base_send(name="b", campaign_id=audience["campaign"].remote_id,
                           sender_ids=[audience["sender"].remote_id],
                           recipient_list_ids=[audience["list"].remote_id],
                           message_body=f"Sale {{{{link:{remote['id']}}}}}")
    message_id = next(iter(m for m in sandbox.state("messages")))["message_id"]
    sandbox.control("POST", f"messages/{message_id}/click", json={})

    refresh_link_conversions.apply()  # what beat runs
    link.refresh_from_db()
    assert (link.total_recipients, link.clicks) == (3, 1)
    assert link.conversion == 33.33
    assert link.conversion_checked_at is not None
    page = admin_client.get(reverse("campaigns:link_list")).content.decode()
    assert "33.33" in page


def test_admin_action_refreshes_selected_links(admin_client, mw_account, sandbox):
    link = Link.objects.create(account=mw_account, name="Shop", url="https://nowhere.example.com", remote_id=1,
                               sync_state=SyncState.SYNCED)
    admin_client.post(reverse("admin:campaigns_link_changelist"),
                      {"action": "refresh_conversion", "_selected_action": [link.pk]})
    link.refresh_from_db()
    assert (link.total_recipients, link.clicks, link.conversion) == (0, 0, 0)


def test_link_page_shows_figures_and_refreshes_on_demand(admin_client, mw_account, sandbox,
                                                         django_capture_on_commit_callbacks):
    link = Link.objects.create(account=mw_account, name="Shop", url="https://nowhere.example.com", remote_id=1,
                               sync_state=SyncState.SYNCED)
    page_url = reverse("campaigns:link_edit", args=[link.pk])
    assert "Not checked yet" in admin_client.get(page_url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("campaigns:link_refresh", args=[link.pk]))
    assert response.status_code == 302
    page = admin_client.get(page_url).content.decode()
    assert "Total recipients" in page and "Clicks" in page and "0%" in page
    assert sandbox.requests(method="POST", path="(?i)/details/linkConversion$")

    sandbox.faults(path="(?i)/details/linkConversion$", fail_next=[{"status": 400}])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:link_refresh", args=[link.pk]))
    page = admin_client.get(page_url).content.decode()
    assert "The last refresh failed" in page and "400" in page
