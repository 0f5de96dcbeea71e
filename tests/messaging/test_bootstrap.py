"""`make run`'s bootstrap connects the sandbox's delivery reports and clicks to this Textcast."""

import pytest
from django.core.management import call_command

from messaging.models import ProviderAccount
from tests.conftest import run_like_a_worker

pytestmark = pytest.mark.django_db


def test_bootstrap_gives_the_sandbox_our_callback_urls(sandbox, settings, capsys):
    settings.PUBLIC_BASE_URL = "http://textcast.test"
    run_like_a_worker(lambda: call_command("bootstrap", sandbox_url=sandbox.url, sandbox_key=sandbox.api_key))
    account = ProviderAccount.objects.get(name="Sandbox")
    config = sandbox.control("GET", "callbacks")
    token = account.callback_token
    assert config["callback_url"] == f"http://textcast.test/callbacks/{token}/dlr"
    assert config["dlr_webhook_url"] == f"http://textcast.test/callbacks/{token}/dlr-batch"
    assert config["click_url"] is None  # clicks go to the callback URL, /sms ones to their own
    assert "Queued connecting the sandbox" in capsys.readouterr().out
