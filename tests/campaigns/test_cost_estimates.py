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
