"""A custom column imported under a header ("City") is written {{city}} in a message."""

from django.urls import reverse

from campaigns.models import Broadcast
from recipients.models import RecipientList

from .test_compose import compose_data


def test_a_named_column_is_sent_as_the_token_messagewhiz_fills(admin_client, audience, mw_account):
    RecipientList.objects.filter(pk=audience["list"].pk).update(column_names={"custom1": "city"})
    audience["list"].recipients.update(custom1="Lviv")
    assert "{{city}}" in admin_client.get(reverse("campaigns:compose")).content.decode()  # in the token picker
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience, body="Hi from {{ city }}!"))
    broadcast = Broadcast.objects.get()
    assert broadcast.body == "Hi from {{custom1}}!"
    assert "Hi from Lviv!" in admin_client.get(response["Location"]).content.decode()


def test_lists_naming_different_columns_alike_are_explained(admin_client, audience, mw_account):
    RecipientList.objects.filter(pk=audience["list"].pk).update(column_names={"custom1": "city"})
    other = RecipientList.objects.create(account=mw_account, name="Other", column_names={"custom2": "city"})
    response = admin_client.post(reverse("campaigns:compose"), compose_data(
        audience, body="Hi from {{city}}", recipient_lists=[audience["list"].pk, other.pk]))
    assert "{{city}} is a different column in the chosen lists (custom1, custom2)" in response.content.decode()
    assert not Broadcast.objects.exists()
