"""A generic account's price table: edited on its page, applied to what is sent (country price,
or the default), estimated by country before sending."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from campaigns.costs import broadcast_costs
from campaigns.estimates import broadcast_estimate, reconciled_estimate
from campaigns.models import Broadcast, Message
from campaigns.tasks import submit_broadcast
from messaging.mirror import SyncState
from messaging.models import CountryPrice
from recipients.models import Recipient, RecipientList

pytestmark = pytest.mark.django_db(transaction=True)

GB, UA, US = ["447400123451", "447400123452"], ["380501234567"], ["12025550101", "12025550102"]
LONG = "Autumn sale: " + "everything must go, " * 8  # 173 GSM characters: two SMS parts


def broadcast_to(account, phones, body=LONG) -> Broadcast:
    recipients = RecipientList.objects.create(account=account, name="Mixed", recipient_count=len(phones),
                                              sync_state=SyncState.SYNCED)
    Recipient.objects.bulk_create(Recipient(recipient_list=recipients, phone=p, first_name="Ann") for p in phones)
    broadcast = Broadcast.objects.create(account=account, name="Autumn", body=body)
    broadcast.recipient_lists.set([recipients])
    return broadcast


def editor(client, *codenames):
    user = User.objects.create_user(f"user-{len(codenames)}", password="pw-not-secret-1")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def save_prices(client, account, **data):
    return client.post(reverse("providers:prices", args=[account.pk]), {"currency": "GBP", **data})


def test_the_price_table_is_edited_with_change_provideraccount(client, make_account):
    account = make_account()
    url = reverse("providers:prices", args=[account.pk])
    editor(client, "view_genericproviderconfig")
    assert client.get(url).status_code == 403
    assert save_prices(client, account, prices_text="GB 0.04").status_code == 403
    assert not CountryPrice.objects.exists()

    editor(client, "view_genericproviderconfig", "change_provideraccount")
    response = save_prices(client, account, prices_text="gb 0.04\nUS;0,0075\n\n", default_price="0.01")
    assert response.status_code == 302
    assert dict(CountryPrice.objects.filter(account=account).values_list("country", "price_per_part")) == {
        "GB": Decimal("0.0400"), "US": Decimal("0.0075")}
    account.refresh_from_db()
    assert (account.currency, account.default_price_per_part) == ("GBP", Decimal("0.0100"))
    detail = client.get(reverse("providers:detail", args=[account.pk])).content.decode()
    assert "0.0400 GBP" in detail and "0.0100 GBP" in detail
    assert "GB 0.0400\nUS 0.0075" in client.get(url).content.decode()

    # Bad lines: each one said, nothing written.
    response = save_prices(client, account, prices_text="GB 0.05\nXX 1\nFR abc\nDE -1\nIT 0.00001\nGB 0.06 extra",
                           default_price="")
    page = response.content.decode()
    assert response.status_code == 200
    for error in ("Line 2: “XX” is not an ISO country code.", "Line 3: the price must be a number",
                  "Line 4: the price must be from 0", "Line 5: the price must be from 0",
                  "Line 6: the price must be a number"):
        assert error in page
    assert CountryPrice.objects.get(account=account, country="GB").price_per_part == Decimal("0.0400")
    assert save_prices(client, account, currency="euro").status_code == 200
    account.refresh_from_db()
    assert account.currency == "GBP"


def test_sent_messages_are_priced_from_the_table_and_the_default(make_account, stub):
    account = make_account()
    account.default_price_per_part = Decimal("0.0100")
    account.currency = "GBP"
    account.save()
    CountryPrice.objects.create(account=account, country="GB", price_per_part=Decimal("0.0400"))
    CountryPrice.objects.create(account=account, country="US", price_per_part=Decimal("0.0075"))
    broadcast = broadcast_to(account, GB + UA + US)

    submit_broadcast(broadcast.pk)

    prices = dict(Message.objects.filter(broadcast=broadcast).values_list("phone", "price"))
    assert prices == {**dict.fromkeys(GB, Decimal("0.0800")), **dict.fromkeys(US, Decimal("0.0150")),
                      UA[0]: Decimal("0.0200")}  # Ukraine has no price of its own: the default
    assert set(Message.objects.filter(broadcast=broadcast).values_list("parts", flat=True)) == {2}
    broadcast.refresh_from_db()
    assert broadcast.cost == Decimal("0.2100") == sum(prices.values())
    rows = {r["country"]: (r["messages"], r["parts"], r["cost"], r["currency"]) for r in broadcast_costs(broadcast)}
    assert rows == {"GB": (2, 4, Decimal("0.1600"), "GBP"), "US": (2, 4, Decimal("0.0300"), "GBP"),
                    "UA": (1, 2, Decimal("0.0200"), "GBP")}


def test_without_a_default_other_countries_are_unpriced(admin_client, make_account, stub):
    account = make_account()
    CountryPrice.objects.create(account=account, country="GB", price_per_part=Decimal("0.0400"))
    broadcast = broadcast_to(account, GB + UA, body="Hi {{first_name}}")
    submit_broadcast(broadcast.pk)
    rows = {r["country"]: (r["cost"], r["unpriced"]) for r in broadcast_costs(broadcast)}
    assert rows == {"GB": (Decimal("0.0800"), 0), "UA": (Decimal("0.0000"), 1)}
    page = admin_client.get(reverse("campaigns:broadcast_costs", args=[broadcast.pk])).content.decode()
    assert "0.08 EUR" in page and "+ 1 without a known price" in page


def test_the_estimate_shows_each_country_at_its_price(admin_client, make_account):
    account = make_account()
    account.default_price_per_part = Decimal("0.0100")
    account.save()
    CountryPrice.objects.create(account=account, country="GB", price_per_part=Decimal("0.0400"))
    broadcast = broadcast_estimate(broadcast_to(account, GB + UA + US, body="Hi {{first_name}}! " + "x" * 160))

    assert broadcast.local_estimate["countries"] == {"GB": {"recipients": 2, "parts": 4},
                                                     "UA": {"recipients": 1, "parts": 2},
                                                     "US": {"recipients": 2, "parts": 4}}
    estimate = reconciled_estimate(broadcast)
    by_country = {r["country"]: (r["recipients"], r["parts"], r["per_part"], r["cost"]) for r in estimate["by_country"]}
    assert by_country == {"GB": (2, 4, Decimal("0.0400"), Decimal("0.16")),
                          "UA": (1, 2, Decimal("0.0100"), Decimal("0.02")),
                          "US": (2, 4, Decimal("0.0100"), Decimal("0.04"))}
    assert estimate["cost"] == Decimal("0.22")
    review = admin_client.get(reverse("campaigns:broadcast_review", args=[broadcast.pk])).content.decode()
    assert 'id="estimate-by-country"' in review and "0.0400 EUR" in review and "0.22 EUR" in review


def test_the_estimate_without_prices_says_so(make_account):
    account = make_account()
    broadcast = broadcast_estimate(broadcast_to(account, GB + UA, body="Hello"))
    estimate = reconciled_estimate(broadcast)
    assert estimate["cost"] is None
    assert {r["country"]: r["cost"] for r in estimate["by_country"]} == {"GB": None, "UA": None}
    assert "no price table" in estimate["explanation"]
