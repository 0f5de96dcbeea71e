"""The review page's estimate by country for MessageWhiz: each country at its price per part."""

from campaigns.estimates import broadcast_estimate, part_rate, reconciled_estimate


def test_messagewhiz_estimate_by_country_at_its_price_per_part(admin_client, make_broadcast, sandbox):
    broadcast = broadcast_estimate(make_broadcast(body="Hi {{first_name}}, " + "x" * 160))
    estimate = reconciled_estimate(broadcast)
    rate = part_rate(broadcast.estimate)
    assert rate is not None
    [ukraine] = estimate["by_country"]
    assert (ukraine["country"], ukraine["recipients"], ukraine["parts"]) == ("UA", 3, 6)
    assert ukraine["per_part"] == rate and ukraine["currency"] == "EUR"
    assert ukraine["cost"] == estimate["cost"] == (rate * 6).quantize(ukraine["cost"])
    review = admin_client.get(f"/broadcasts/{broadcast.pk}/review/").content.decode()
    assert 'id="estimate-by-country"' in review and "Ukraine" in review


def test_a_broadcast_without_lists_is_estimated_at_nothing_not_a_500(admin_client, mw_account, sandbox,
                                                                    django_capture_on_commit_callbacks):
    from django.urls import reverse

    from campaigns.models import Broadcast

    broadcast = Broadcast.objects.create(account=mw_account, name="Nobody yet", body="Hi")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("campaigns:broadcast_estimate", args=[broadcast.pk]))
    assert response.status_code == 302
    broadcast.refresh_from_db()
    assert broadcast.local_estimate["recipients"] == 0
