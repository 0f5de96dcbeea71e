"""Clicks naming no message we know are kept, and the overview says they count nowhere yet."""

import json

import pytest

from messaging.models import ProviderAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _applied_at_once(settings):
    """Callbacks (and our own links' clicks) are applied in the request, not buffered in Redis."""
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""


def test_the_overview_says_how_many_clicks_count_on_no_figure(admin_client, client, settings):
    account = ProviderAccount.objects.create(name="MW", api_key="k")
    click = {"message_id": "4iE_yS65Vn8iXCqaW5L2N", "link_id": "hkzt.me/ZPFuT5", "time": "2026-01-01T10:00:00Z"}
    response = client.post(f"/callbacks/{account.callback_token}/click", data=json.dumps(click),
                           content_type="application/json")
    assert response.status_code == 200
    assert "unmatched-clicks" not in admin_client.get("/").content.decode()  # not late yet
    settings.DELIVERY_REPORTS_LATE_SECONDS = 0
    page = admin_client.get("/").content.decode()
    assert "1 click</strong> names no message Textcast knows" in page
    assert "Everything is in step" not in page
