"""A/B tests through a generic HTTP provider (the stand-in, over real HTTP): disjoint samples sized by
the share, the winner sent once to exactly the rest, and the figures on the tested broadcast's page."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from campaigns.abtests import abtest_save
from campaigns.models import AbTest, Broadcast, Message
from campaigns.tasks import abtest_sweep, submit_broadcast
from messaging.mirror import SyncState
from recipients.models import Recipient, RecipientList

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"http://testserver/r/\S+")


@pytest.fixture(autouse=True)
def _applied_at_once(settings):
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""
    settings.PUBLIC_BASE_URL = "http://testserver"


def ab_broadcast(account, count, *, share=20, variants=("B: {{shorten_url}}",), metric=AbTest.Metric.CTR):
    people = RecipientList.objects.create(account=account, name="Customers", recipient_count=count,
                                          sync_state=SyncState.SYNCED)
    phones = [f"38050{i:07d}" for i in range(count)]
    Recipient.objects.bulk_create(Recipient(recipient_list=people, phone=p, first_name="Ann",
                                            url="https://shop.example/") for p in phones)
    broadcast = Broadcast.objects.create(account=account, name="Sale", body="A: {{shorten_url}}")
    broadcast.recipient_lists.set([people])
    abtest_save(broadcast, share=share, metric=metric, decide_after=timedelta(hours=4),
                variants=[{"body": body, "template": None, "senders": [], "sender_lists": []} for body in variants])
    return broadcast, phones


def sent_to(stub, prefix):
    return [r.json()["to"] for r in stub.requests if r.json()["text"].startswith(prefix)]


def click(client, stub, phones):
    texts = {r.json()["to"]: r.json()["text"] for r in stub.requests}
    for phone in phones:
        [link] = LINK.findall(texts[phone])
        assert client.get(urlsplit(link).path).status_code == 302


def decide_now(broadcast):
    AbTest.objects.filter(broadcast=broadcast).update(decide_at=timezone.now() - timedelta(seconds=1))
    abtest_sweep()


def test_samples_are_disjoint_sized_by_the_share_and_the_winner_goes_once_to_exactly_the_rest(client, admin_client,
                                                                                             stub, make_account):
    account = make_account()
    broadcast, phones = ab_broadcast(account, 200, share=20)

    submit_broadcast(broadcast.pk)

    a, b = sent_to(stub, "A:"), sent_to(stub, "B:")
    assert len(a) == len(b) == 20 and not set(a) & set(b)  # 20% of 200, split between two variants
    assert len(stub.requests) == 40
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED and broadcast.recipients_count == 0  # sends nothing itself
    test = AbTest.objects.get(broadcast=broadcast)
    assert test.state == AbTest.State.TESTING and test.audience == 200
    assert timedelta(hours=3, minutes=59) < test.decide_at - timezone.now() <= timedelta(hours=4)

    abtest_sweep()  # not its time yet
    assert len(stub.requests) == 40

    click(client, stub, a[:2] + b[:9])
    decide_now(broadcast)

    winner = sent_to(stub, "B:")[20:]
    assert sorted(winner) == sorted(set(phones) - set(a) - set(b))  # exactly the rest, each once
    assert len(stub.requests) == 200
    test.refresh_from_db()
    assert test.state == AbTest.State.DECIDED and test.winner.label == "B"
    assert test.decision["significant"] and test.decision["p_value"] < 0.05
    [winner_send] = broadcast.children.filter(role=Broadcast.Role.WINNER)
    assert winner_send.state == Broadcast.State.COMPLETED and winner_send.sent == 160

    AbTest.objects.filter(pk=test.pk).update(state=AbTest.State.TESTING)  # even a decision run again …
    decide_now(broadcast)
    submit_broadcast(winner_send.pk)
    assert len(stub.requests) == 200  # … sends nothing more: one winner per test, in the database
    assert broadcast.children.filter(role=Broadcast.Role.WINNER).count() == 1
    assert Message.objects.filter(broadcast__parent=broadcast).count() == 200

    abtest_sweep()
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED

    page = admin_client.get(f"/broadcasts/{broadcast.pk}/")
    text = page.content.decode()
    figures = page.context["figures"]  # the children's figures, added up on the tested broadcast
    assert figures["recipients"] == 200 and figures["funnel"][0] == ("Submitted", 200)
    assert figures["funnel"][-1] == ("Clicked", 11)
    assert "Variant B has the highest click-through rate: 45.0%" in text
    assert "significant at 95%" in text and "not significant" not in text
    assert "winner (B)" in text


def test_the_same_seed_draws_the_same_samples(stub, make_account):
    account = make_account()
    first, _ = ab_broadcast(account, 50, share=40)
    second, _ = ab_broadcast(account, 50, share=40)
    seed = AbTest.objects.get(broadcast=first).seed
    AbTest.objects.filter(broadcast=second).update(seed=seed)
    submit_broadcast(first.pk)
    submit_broadcast(second.pk)
    samples = [sorted(Message.objects.filter(broadcast__parent=b, broadcast__name__endswith=f"variant {label}")
                      .values_list("phone", flat=True)) for b in (first, second) for label in "AB"]
    assert samples[0] == samples[2] and samples[1] == samples[3] and len(samples[0]) == 10
    assert samples[0] != sorted(Message.objects.filter(broadcast__parent=first).values_list("phone", flat=True))[:10]


def test_a_tie_goes_to_variant_a_and_says_so(admin_client, stub, make_account):
    account = make_account()
    broadcast, _ = ab_broadcast(account, 30, share=50, variants=("B: {{shorten_url}}", "C: {{shorten_url}}"))
    submit_broadcast(broadcast.pk)
    assert len(stub.requests) == 15
    decide_now(broadcast)  # no clicks at all
    test = AbTest.objects.get(broadcast=broadcast)
    assert test.winner.label == "A"
    assert len(sent_to(stub, "A:")) == 5 + 15
    text = admin_client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert "tie on click-through rate (0.0%): the earliest, A, wins by rule" in text
    assert "not significant at 95%" in text


def test_too_few_recipients_for_the_share_fails_the_test_and_sends_nothing(stub, make_account):
    account = make_account()
    broadcast, _ = ab_broadcast(account, 15, share=10)  # 1.5 recipients in the test: under one per variant
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.FAILED
    assert "Too few recipients for this A/B test: 15 with a test share of 10%" in broadcast.last_error
    assert not stub.requests and not broadcast.children.exists()


def test_a_stopped_test_sends_no_winner_and_stopping_needs_its_permission(client, admin_client, stub, make_account):
    from django.contrib.auth.models import Permission, User

    account = make_account()
    broadcast, _ = ab_broadcast(account, 40, share=50)
    submit_broadcast(broadcast.pk)
    assert len(stub.requests) == 20
    colleague = User.objects.create_user("mara", password="x" * 16)
    colleague.user_permissions.add(Permission.objects.get(codename="view_broadcast"))
    client.force_login(colleague)
    assert client.post(f"/broadcasts/{broadcast.pk}/abtest/stop/").status_code == 403
    assert AbTest.objects.get(broadcast=broadcast).state == AbTest.State.TESTING

    page = admin_client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert "Stop the test: send no winner" in page
    admin_client.post(f"/broadcasts/{broadcast.pk}/abtest/stop/")
    decide_now(broadcast)
    assert len(stub.requests) == 20 and not broadcast.children.filter(role=Broadcast.Role.WINNER).exists()
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    page = admin_client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert "Stopped by admin before the decision: no winner was sent." in page
