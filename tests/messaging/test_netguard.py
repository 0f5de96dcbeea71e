"""The outbound address guard: loopback, private, link-local and metadata addresses are refused,
however they are spelled, after DNS resolution and again on the connection itself."""

import pytest

from messaging import netguard
from messaging.http import HttpClient, RefusedAddressError
from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import TransportError


@pytest.fixture
def guarded(settings):
    """The production default (the suite allows private networks for its local servers)."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.OUTBOUND_ALLOWED_HOSTS = []
    return settings


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "169.254.169.254",
    "0.0.0.0",  # noqa: S104 - an address under test, not a bind
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.0.192",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd00:ec2::254", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
])
def test_non_public_addresses(address):
    assert not netguard.address_is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses(address):
    assert netguard.address_is_public(address)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:5432/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[::ffff:7f00:1]/",
    "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/", "http://localhost:6379/", "https://10.1.2.3/sms",
])
def test_urls_reaching_internal_addresses_are_refused(guarded, url):
    with pytest.raises(netguard.AddressRefused, match="non-public"):
        netguard.check_url(url)


def test_settings_allow_private_networks_or_some_hosts(guarded):
    guarded.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8025", "[::1]", "sms.internal"]
    netguard.check_url("http://127.0.0.1:8025/api/3/Campaign/List")
    netguard.check_url("http://[::1]:9000/")
    with pytest.raises(netguard.AddressRefused):
        netguard.check_url("http://127.0.0.1:8026/")  # another port of the allowed host
    guarded.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    netguard.check_url("http://127.0.0.1:5432/")


def test_a_name_that_does_not_resolve_is_left_to_the_connection(guarded):
    netguard.check_url("https://no-such-host.invalid/sms")


def test_the_connection_is_checked_where_it_actually_went(guarded, sandbox):
    """However the URL was accepted (DNS answering differently back then, an old row), nothing is
    sent to a non-public address: the check runs on the connected socket, before the request."""
    before = len(sandbox.requests())
    client = HttpClient(sandbox.url.replace("127.0.0.1", "localhost"), max_retries=3, sleep=lambda _: None)
    with pytest.raises(RefusedAddressError, match="non-public"):
        client.request("GET", "/api/3/Campaign/List", headers={"apikey": sandbox.api_key})
    with pytest.raises(RefusedAddressError):
        client.request("POST", "/api/3/Broadcast/create", json={}, headers={"apikey": sandbox.api_key})
    assert len(sandbox.requests()) == before

    mw = MessageWhizClient(sandbox.url, sandbox.api_key)
    with pytest.raises(TransportError) as refused:
        mw.campaign_list()
    assert refused.value.permanent  # a task does not retry it
    assert len(sandbox.requests()) == before

    guarded.OUTBOUND_ALLOWED_HOSTS = [sandbox.url.removeprefix("http://")]
    assert mw.campaign_list() is not None
