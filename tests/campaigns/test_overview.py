"""The overview sums broadcast counters over the chosen period and flags what needs attention."""

from datetime import timedelta

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Broadcast, Template
from messaging.mirror import SyncState
from messaging.models import ProviderAccount
from messaging.tasks import heartbeat
from recipients.models import RecipientList, UnsubscribeList


def test_overview_totals_by_period(admin_client, make_broadcast):
    recent = make_broadcast(name="Recent")
    old = make_broadcast(name="Old")
    Broadcast.objects.filter(pk=recent.pk).update(state="submitted", sent=100, delivered=90, clicks_unique=12,
                                                   failed=4, submitted_at=timezone.now() - timedelta(days=2))
    Broadcast.objects.filter(pk=old.pk).update(state="completed", sent=50, delivered=50,
                                               submitted_at=timezone.now() - timedelta(days=20))
    week = admin_client.get(reverse("home")).content.decode()
    assert '<span class="stat-value">100</span>' in week and '<span class="stat-value">90</span>' in week
    month = admin_client.get(reverse("home") + "?days=30").content.decode()
    assert '<span class="stat-value">150</span>' in month and '<span class="stat-value">140</span>' in month


def test_sync_failures_and_missing_worker_are_flagged(admin_client, mw_account):
    cache.delete("textcast:worker-heartbeat")
    Template.objects.create(account=mw_account, name="Broken", body="x", sync_state=SyncState.FAILED,
                            sync_error="Template with name 'Broken' already exists")
    page = admin_client.get(reverse("home")).content.decode()
    assert "already exists" in page
    template = Template.objects.get(name="Broken")
    assert f'<a href="{reverse("campaigns:template_edit", args=[template.pk])}">Broken</a>' in page
    assert "No background worker has checked in" in page
    heartbeat()
    assert "No background worker" not in admin_client.get(reverse("home")).content.decode()


def test_lists_and_sync_problems_link_to_their_pages(admin_client, mw_account):
    customers = RecipientList.objects.create(account=mw_account, name="Customers", recipient_count=3)
    opt_outs = UnsubscribeList.objects.create(account=mw_account, name="Opt-outs", sync_state=SyncState.FAILED,
                                              sync_error="Unsubscribe list not found")
    page = admin_client.get(reverse("home")).content.decode()
    assert f'<a href="{reverse("recipients:list_detail", args=["recipients", customers.pk])}">Customers</a>' in page
    assert f'<a href="{reverse("recipients:list_detail", args=["unsubscribes", opt_outs.pk])}">Opt-outs</a>' in page
    assert "Unsubscribe list not found" in page


def test_failures_are_counted_alike_on_every_page(admin_client, make_broadcast):
    """Refused, undelivered, expired and rejected messages are all "failed or undelivered", on the
    overview, the campaign and the broadcast alike; unknown ones are not (yet)."""
    broadcast = make_broadcast()
    Broadcast.objects.filter(pk=broadcast.pk).update(state="completed", sent=20, delivered=8, failed=1, undelivered=4,
                                                     expired=2, rejected=3, unknown=2, submitted_at=timezone.now())
    stat = '<span class="stat-value">10</span><span class="stat-label">Failed</span>'
    for url in (reverse("home"), reverse("campaigns:campaign_detail", args=[broadcast.campaign_id]),
                reverse("campaigns:broadcast_detail", args=[broadcast.pk])):
        assert stat in admin_client.get(url).content.decode(), url


def test_overview_has_a_daily_trend_that_adds_up_to_its_totals(admin_client, make_broadcast):
    for name, days_ago, sent in (("Today", 0, 10), ("Three days ago", 3, 30), ("Long ago", 40, 99)):
        broadcast = make_broadcast(name=name)
        Broadcast.objects.filter(pk=broadcast.pk).update(state="completed", sent=sent, delivered=sent - 2, failed=2,
                                                         submitted_at=timezone.now() - timedelta(days=days_ago))
    response = admin_client.get(reverse("home"))
    trend = response.context["trend"]
    assert [day["day"] for day in trend][-1] == timezone.localdate().isoformat()
    assert len(trend) == 8  # seven days back, the first one in part
    assert sum(day["sent"] for day in trend) == response.context["totals"]["sent"] == 40
    assert sum(day["failed"] for day in trend) == 4
    by_day = {day["day"]: day for day in trend}
    assert by_day[(timezone.localdate() - timedelta(days=3)).isoformat()]["delivered"] == 28
    page = response.content.decode()
    assert 'id="trend-chart"' in page and 'id="trend-data"' in page and "chart-4.6.1.umd.min.js" in page


def test_overview_cost_carries_the_currency_and_never_adds_currencies_up(admin_client, make_broadcast, mw_account):
    sent = make_broadcast(name="Recent")
    Broadcast.objects.filter(pk=sent.pk).update(state="submitted", sent=3, cost="8715.8400",
                                                submitted_at=timezone.now())
    assert '<span class="stat-value">8,715.84 EUR</span>' in admin_client.get(reverse("home")).content.decode()
    other = ProviderAccount.objects.create(name="Dollars", kind=ProviderAccount.Kind.GENERIC, currency="USD")
    Broadcast.objects.create(account=other, name="US", state="submitted", cost="1", submitted_at=timezone.now())
    page = admin_client.get(reverse("home")).content.decode()
    assert '<span class="stat-value">8,715.84 EUR</span>' in page
    assert '<span class="stat-value">1.00 USD</span>' in page
    assert "8716.84" not in page and "8,716.84" not in page
