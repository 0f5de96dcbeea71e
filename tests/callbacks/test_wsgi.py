"""The WSGI application gunicorn serves (config.wsgi): callback endpoints without the middleware."""

import io
import json
import logging

import pytest

from callbacks import views
from callbacks import wsgi as callbacks_wsgi
from campaigns.models import Message
from config import wsgi

from .payloads import dlr


def call(path, body=b"", *, method="POST", host="testserver", app=None, **extra):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "SERVER_NAME": "testserver",
               "SERVER_PORT": "80", "HTTP_HOST": host, "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json", **extra}
    answer = {}
    response = (app or wsgi.application)(environ, lambda status, headers: answer.update(status=status,
                                                                                        headers=dict(headers)))
    try:
        content = b"".join(response)
    finally:
        response.close()
    return int(answer["status"].split()[0]), answer["headers"], content


@pytest.fixture
def routed(monkeypatch):
    """Which of the two applications answered each request."""
    seen, serve = [], callbacks_wsgi.serve
    monkeypatch.setattr(callbacks_wsgi, "serve", lambda *args: seen.append("lean") or serve(*args))
    return seen


@pytest.mark.django_db(transaction=True)
def test_a_dlr_is_answered_without_the_middleware_and_applied(routed, account, make_messages, direct):
    _, [message] = make_messages(1)
    status, headers, content = call(f"/callbacks/{account.callback_token}/dlr/", json.dumps(dlr(message)).encode())
    assert (status, json.loads(content), routed) == (200, {"ok": True}, ["lean"])
    assert headers["Content-Length"] == str(len(content))  # keep-alive without chunking
    assert headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in headers
    assert "Set-Cookie" not in headers and "Vary" not in headers  # no session was touched
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


@pytest.mark.django_db(transaction=True)
def test_other_urls_and_the_ping_still_go_through_django(routed, account):
    assert call(f"/callbacks/{account.callback_token}/ping", method="GET")[0] == 200
    assert call("/callbacks/settings/", method="GET")[0] == 302  # the login wall: the middleware ran
    assert routed == []


@pytest.mark.django_db(transaction=True)
def test_the_host_check_and_the_https_redirect_still_apply(account, settings):
    url = f"/callbacks/{account.callback_token}/dlr"
    assert call(url, b"{}", host="evil.example")[0] == 400
    settings.SECURE_SSL_REDIRECT = True
    status, headers, _ = call(url, b"{}")
    assert (status, headers["Location"]) == (301, f"https://testserver{url}")


@pytest.mark.django_db(transaction=True)
def test_authentication_and_refusals_are_the_views(account):
    assert call("/callbacks/not-a-token/dlr", b"{}")[0] == 404
    assert call(f"/callbacks/{account.callback_token}/click", b"[[[")[0] == 400
    assert call(f"/callbacks/{account.callback_token}/dlr-batch", method="GET")[:2][0] == 405


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_is_a_logged_500(account, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(views, "receive", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        status, _, content = call(f"/callbacks/{account.callback_token}/dlr", b"{}")
    assert (status, json.loads(content)) == (500, {"error": "server error"})
    assert "Internal Server Error" in caplog.text
