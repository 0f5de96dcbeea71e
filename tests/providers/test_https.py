"""Providers are reached over TLS with the certificate checked, as any https:// endpoint in production."""

import ssl

import pytest
import trustme

from campaigns.models import Message
from campaigns.tasks import submit_broadcast

from .stub import StubServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def certificate_authority():
    return trustme.CA()


@pytest.fixture
def https_stub(certificate_authority):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    server = StubServer(ssl_context=context).start()
    yield server
    server.stop()


def test_messages_go_out_over_tls(https_stub, certificate_authority, make_account, make_broadcast, tmp_path,
                                  monkeypatch):
    # The system's trust store, as production uses, with our test authority in it.
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    account = make_account(endpoint=f"{https_stub.url}/sms")
    broadcast, phones = make_broadcast(account, 20)
    submit_broadcast(broadcast.pk)
    assert sorted(r.json()["to"] for r in https_stub.requests) == sorted(phones)
    assert set(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"submitted"}


def test_an_untrusted_certificate_is_refused(https_stub, make_account, make_broadcast):
    account = make_account(endpoint=f"{https_stub.url}/sms")
    broadcast, _ = make_broadcast(account, 2)
    submit_broadcast(broadcast.pk)
    assert https_stub.requests == []
    failed = Message.objects.filter(broadcast=broadcast)
    assert {m.status for m in failed} == {"failed"}
    assert all("certificate verify failed" in m.error for m in failed)
