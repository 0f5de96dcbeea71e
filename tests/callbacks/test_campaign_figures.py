"""A campaign's figures: the sums of its broadcasts' counters, as callbacks keep them, conversion included."""

from decimal import Decimal

from campaigns.models import Broadcast, Campaign, RecurringBroadcast
from campaigns.selectors import campaign_figures

from .payloads import click, dlr, figures, webhook_entry


def test_campaign_figures_add_up_its_broadcasts(hook, account, make_messages, django_assert_num_queries):
    campaign = Campaign.objects.create(account=account, name="Spring")
    first, (a, b, c, _in_flight) = make_messages(4, campaign=campaign)
    second, (e, f) = make_messages(2, campaign=campaign)
    _elsewhere, (g,) = make_messages(1)
    hook.ok("dlr", dlr(a, "DELIVRD", price=0.5))
    hook.ok("dlr", dlr(b, "UNDELIV", price=0.5))
    hook.ok("dlr_batch", {"dlrs": [webhook_entry(c, 3, price=0.25), webhook_entry(e, 2, price=0.25),
                                   webhook_entry(f, 8, price=0)]})
    hook.ok("dlr", dlr(g, "DELIVRD", price=9))
    hook.ok("click", click(a))
    hook.ok("click", click(a, link="hkzt.me/2"))
    hook.ok("click", click(e))
    hook.ok("click", click(g))
    hook.settle()
    figures(first), figures(second)  # each broadcast's counters equal the recount from the raw events

    with django_assert_num_queries(1):
        totals = campaign_figures(campaign)
    assert totals == {
        "broadcasts": 2, "recipients": 6, "sent": 6, "delivered": 2, "undelivered": 1, "expired": 1, "rejected": 1,
        "failed": 0, "unknown": 0, "in_flight": 1, "cost": Decimal("1.5000"), "clicks_total": 3, "clicks_unique": 2,
        "failed_total": 3, "recovered": 0, "conversion": 100 * 2 / 6, "delivery_rate": 33.3, "click_rate": 100.0,
    }


def test_a_campaign_with_nothing_sent(account, make_broadcast, db):
    campaign = Campaign.objects.create(account=account, name="Quiet")
    definition = make_broadcast(campaign=campaign, recipients=5)  # a recurring schedule's template: never sent
    RecurringBroadcast.objects.create(definition=definition)
    Broadcast.objects.create(account=account, campaign=campaign, name="Draft")
    assert campaign_figures(campaign) == {
        "broadcasts": 1, "recipients": 0, "sent": 0, "delivered": 0, "undelivered": 0, "expired": 0, "rejected": 0,
        "failed": 0, "unknown": 0, "in_flight": 0, "cost": Decimal(0), "clicks_total": 0, "clicks_unique": 0,
        "failed_total": 0, "recovered": 0, "conversion": None, "delivery_rate": None, "click_rate": None,
    }
