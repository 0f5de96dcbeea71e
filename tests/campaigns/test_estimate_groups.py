"""The estimate counts groups of recipients whose texts must cost the same parts, not each recipient;
the fan-out decides countries by groups of first digits. Both must equal doing it one by one
(PostgreSQL groups plain-GSM values by their length, SQLite by the values)."""

import random
from collections import Counter

import pytest

from campaigns import rendering, sms
from campaigns.estimates import RECIPIENT_FIELDS, local_estimate, render_context
from campaigns.models import Broadcast, Message
from campaigns.sending import messages_create
from messaging.models import ProviderAccount
from recipients.models import Recipient, RecipientList, UnsubscribeList, UnsubscribeNumber
from recipients.phones import phone_country
from recipients.selectors import recipients_for_send

# GB and three numbers their first six digits do not settle (447781: GG, 447797: JE, 447624: IM),
# a number too short for any group (AX, decided on its own), and others.
NUMBERS = ["447400123401", "447781123456", "447797123456", "447624123456", "35818123", "12025550101",
           "14165550101", "380501234567", "79161234567", "4915112345678"]
# Plain GSM of several lengths, GSM extension characters (two septets each, and where a part ends),
# characters that force UCS-2, an emoji (two UCS-2 units), and nothing (the fallback).
VALUES = ["Al", "Anna", "Alexandra", "José", "O'Brien", "a" * 17, "[VIP]", "€€", "{x}", "Zoë", "Ольга", "🎉 Li",
          "", "", "order-12345", "€"]


@pytest.fixture
def account(db):
    return ProviderAccount.objects.create(name="Groups", api_key="k")


def recipients(rnd, count):
    numbers = list(NUMBERS) + [f"38067{n:07d}" for n in range(count - len(NUMBERS))]
    for number in numbers:
        yield {"phone": number, "first_name": rnd.choice(VALUES), "custom": rnd.choice(VALUES),
               "url": rnd.choice(["", "https://shop.example.com/a"])}


def one_by_one(broadcast) -> dict:
    renderer = rendering.compile(broadcast.body, context=render_context(broadcast.account, spinners={},
                                                                        worst_case=True))
    parts, countries = Counter(), {}
    rows = recipients_for_send(recipient_list_ids=list(broadcast.recipient_lists.values_list("pk", flat=True)),
                               unsubscribe_list_ids=list(broadcast.unsubscribe_lists.values_list("pk", flat=True)))
    for row in rows.values(*RECIPIENT_FIELDS):
        n = sms.count_parts(renderer(row))
        parts[str(n)] += 1
        figures = countries.setdefault(phone_country(row["phone"]), {"recipients": 0, "parts": 0})
        figures["recipients"] += 1
        figures["parts"] += n
    return {"recipients": sum(parts.values()), "parts": dict(sorted(parts.items())), "countries": countries}


@pytest.mark.parametrize("kind", [ProviderAccount.Kind.MESSAGEWHIZ, ProviderAccount.Kind.GENERIC])
def test_the_grouped_estimate_equals_counting_each_recipient(account, kind):
    rnd = random.Random(15)
    ProviderAccount.objects.filter(pk=account.pk).update(kind=kind)
    account.refresh_from_db()
    first, second = (RecipientList.objects.create(account=account, name=name) for name in ("First", "Second"))
    rows = list(recipients(rnd, 300))
    Recipient.objects.bulk_create(Recipient(recipient_list=first, **row) for row in rows)
    # Numbers in both lists count once, with the first list's fields; some only in the second.
    Recipient.objects.bulk_create(Recipient(recipient_list=second, **{**row, "first_name": rnd.choice(VALUES)})
                                  for row in rows[::3])
    Recipient.objects.bulk_create(Recipient(recipient_list=second, phone=f"44740099{n:04d}", first_name="Ольга")
                                  for n in range(20))
    optouts = UnsubscribeList.objects.create(account=account, name="Opt-outs")
    UnsubscribeNumber.objects.bulk_create(UnsubscribeNumber(unsubscribe_list=optouts, phone=row["phone"])
                                          for row in rows[5::11])
    for pad in range(95, 160, 4):  # bodies ending either side of each part boundary
        body = "Hi {{first_name|there}}, order {{custom}} ships " + "y" * pad + " {{shorten_url}}"
        for lists in ([first], [first, second]):
            broadcast = Broadcast.objects.create(account=account, name="Groups", body=body)
            broadcast.recipient_lists.set(lists)
            broadcast.unsubscribe_lists.set([optouts])
            estimate = local_estimate(broadcast)
            expected = one_by_one(broadcast)
            assert {key: estimate[key] for key in expected} == expected, (pad, len(lists))
    assert len(expected["parts"]) > 1 and {"GG", "JE", "IM", "AX", "UA"} <= expected["countries"].keys()


def test_a_static_body_is_counted_by_country_without_reading_fields(account):
    listed = RecipientList.objects.create(account=account, name="Static")
    Recipient.objects.bulk_create(Recipient(recipient_list=listed, phone=number) for number in NUMBERS)
    broadcast = Broadcast.objects.create(account=account, name="Static", body="Sale today only")
    broadcast.recipient_lists.set([listed])
    estimate = local_estimate(broadcast)
    assert estimate["recipients"] == len(NUMBERS) and estimate["parts"] == {"1": len(NUMBERS)}
    assert estimate["countries"] == one_by_one(broadcast)["countries"]


def test_a_broadcast_without_lists_estimates_to_nobody(account):
    estimate = local_estimate(Broadcast.objects.create(account=account, name="None", body="Hi {{first_name}}"))
    assert estimate["recipients"] == 0 and estimate["parts"] == {} and estimate["countries"] == {}


def test_each_message_gets_its_numbers_country(account):
    listed = RecipientList.objects.create(account=account, name="Countries")
    Recipient.objects.bulk_create(Recipient(recipient_list=listed, phone=number) for number in NUMBERS)
    optouts = UnsubscribeList.objects.create(account=account, name="Opt-outs")
    UnsubscribeNumber.objects.create(unsubscribe_list=optouts, phone="447797123456")
    broadcast = Broadcast.objects.create(account=account, name="Countries", body="Hi")
    broadcast.recipient_lists.set([listed])
    broadcast.unsubscribe_lists.set([optouts])
    assert messages_create(broadcast, status=Message.Status.SUBMITTED) == len(NUMBERS) - 1
    assert dict(Message.objects.filter(broadcast=broadcast).values_list("phone", "country")) == {
        number: phone_country(number) for number in NUMBERS if number != "447797123456"}
    assert {"GG", "IM", "AX", "GB"} <= set(Message.objects.values_list("country", flat=True))
