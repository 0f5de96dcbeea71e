"""Links in broadcasts Textcast sends itself (generic providers): each recipient gets working links
of their own, opening one counts a click on the broadcast, and the opt-out link opts the number out."""

import re
from urllib.parse import urlsplit

import pytest

from callbacks import selectors as callback_selectors
from callbacks.models import Click
from campaigns import tracking
from campaigns.estimates import broadcast_estimate, confirm_problem
from campaigns.models import Broadcast, Message
from campaigns.tasks import submit_broadcast
from messaging.mirror import SyncState
from recipients.models import Recipient, RecipientList, UnsubscribeNumber

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _applied_at_once(settings):
    """Callbacks (and our own links' clicks) are applied in the request, not buffered in Redis."""
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""

LINK = re.compile(r"http://testserver/[ru]/\S+")


@pytest.fixture
def shop(settings, make_account):
    settings.PUBLIC_BASE_URL = "http://testserver"
    account = make_account()
    people = RecipientList.objects.create(account=account, name="Customers", recipient_count=3,
                                          sync_state=SyncState.SYNCED)
    phones = ["380500000001", "380500000002", "380500000003"]
    Recipient.objects.bulk_create(Recipient(recipient_list=people, phone=p, first_name="Ann",
                                            url=f"https://shop.example/cart/{p[-1]}") for p in phones)
    return account, people, phones


def send(account, people, body):
    broadcast = Broadcast.objects.create(account=account, name="Sale", body=body)
    broadcast.recipient_lists.set([people])
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    return broadcast


def test_each_recipient_gets_working_links_and_opening_one_counts_a_click(client, stub, shop):
    account, people, phones = shop
    broadcast = send(account, people, "Hi {{first_name}}, your cart: {{shorten_url}} Stop: {{unsubscription_link}}")

    texts = {r.json()["to"]: r.json()["text"] for r in stub.requests}
    assert sorted(texts) == phones
    assert not any("0nz0.com" in text for text in texts.values())  # the counting placeholder never leaves
    links = {phone: LINK.findall(text) for phone, text in texts.items()}
    assert all(len(found) == 2 for found in links.values())
    assert len({link for found in links.values() for link in found}) == 6  # every recipient's own

    cart, stop = links[phones[1]]
    opened = client.get(urlsplit(cart).path)
    assert opened.status_code == 302 and opened["Location"] == "https://shop.example/cart/2"
    client.get(urlsplit(cart).path)  # the same recipient again: one more click, still one person
    broadcast.refresh_from_db()
    assert (broadcast.clicks_total, broadcast.clicks_unique) == (2, 1)
    assert Message.objects.get(broadcast=broadcast, phone=phones[1]).clicks == 2
    [link] = callback_selectors.broadcast_timeline(broadcast)["links"]
    assert (link["link_id"], link["clicks"], link["people"]) == ("https://shop.example/cart/2", 2, 1)
    assert "/u/" in stop


def test_the_opt_out_link_asks_then_opts_the_number_out(client, stub, shop):
    account, people, phones = shop
    send(account, people, "Sale! Stop: {{unsubscription_link}}")
    [stop] = LINK.findall(next(r.json()["text"] for r in stub.requests if r.json()["to"] == phones[0]))

    page = client.get(urlsplit(stop).path)  # a link previewer's GET opts no one out
    assert page.status_code == 200 and b"Stop messages from Generic?" in page.content
    assert not UnsubscribeNumber.objects.filter(phone=phones[0]).exists()
    done = client.post(urlsplit(stop).path)
    assert b"will get no more messages from Generic" in done.content
    account.generic.refresh_from_db()
    assert UnsubscribeNumber.objects.filter(unsubscribe_list=account.generic.optout_list, phone=phones[0]).exists()

    stub.requests.clear()
    send(account, people, "Second sale")
    assert sorted(r.json()["to"] for r in stub.requests) == phones[1:]


def test_a_made_up_or_altered_link_leads_nowhere(client, stub, shop):
    account, people, _ = shop
    send(account, people, "Cart: {{shorten_url}}")
    [link] = LINK.findall(stub.requests[0].json()["text"])
    path = urlsplit(link).path
    assert client.get(path[:-1] + ("a" if path[-1] != "a" else "b")).status_code == 404
    message_id, slot = tracking.token_read(path.rsplit("/", 1)[1])
    assert client.get(f"/r/{tracking.token_make(message_id, slot + 5)}").status_code == 404  # no such link
    assert client.get(f"/u/{tracking.token_make(message_id, slot)}").status_code == 404  # not an opt-out
    assert not Click.objects.exists()


def test_review_refuses_a_token_the_provider_cannot_supply(stub, shop):
    account, people, _ = shop
    broadcast = Broadcast.objects.create(account=account, name="Trigger", body="Go {{callback_link}}")
    broadcast.recipient_lists.set([people])
    broadcast_estimate(broadcast)
    assert "{{callback_link}} can't be sent through an HTTP provider" in confirm_problem(broadcast)


def test_the_review_shows_the_links_recipients_get(admin_client, stub, shop):
    account, people, _ = shop
    broadcast = Broadcast.objects.create(account=account, name="Review", body="Cart {{shorten_url}}")
    broadcast.recipient_lists.set([people])
    broadcast_estimate(broadcast)
    page = admin_client.get(f"/broadcasts/{broadcast.pk}/review/").content.decode()
    assert "http://testserver/r/" in page and "0nz0.com" not in page
    assert 'data-testid="own-links"' in page
