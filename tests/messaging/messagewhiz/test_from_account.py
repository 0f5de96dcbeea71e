"""Building a client from a provider account picks its defaults from settings."""

from types import SimpleNamespace

from django.test import override_settings

from messaging.messagewhiz.client import MessageWhizClient


@override_settings(MESSAGEWHIZ_CONNECT_TIMEOUT=1.5, MESSAGEWHIZ_READ_TIMEOUT=7.0, MESSAGEWHIZ_MAX_RETRIES=2)
def test_from_account_uses_settings_and_the_account_key(sandbox):
    account = SimpleNamespace(base_url=sandbox.url, api_key=sandbox.api_key)
    with MessageWhizClient.from_account(account) as mw:
        assert mw.http.timeout == (1.5, 7.0)
        assert mw.http.max_retries == 2
        assert sandbox.api_key not in repr(mw)
        assert mw.campaign_list() == []


def test_explicit_options_win(sandbox):
    account = SimpleNamespace(base_url=sandbox.url, api_key=sandbox.api_key)
    with MessageWhizClient.from_account(account, max_retries=0) as mw:
        assert mw.http.max_retries == 0
