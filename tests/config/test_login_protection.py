"""Signing in is throttled per name and per address, can take a second factor, expires when idle,
and every page carries a Content-Security-Policy that the templates can live with."""

import re
import time
import uuid

import pytest
import requests
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import BASE_DIR

PASSWORD = "a-long-passphrase-42"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """Failure counts live in the cache: each test gets an empty one of its own."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": uuid.uuid4().hex}}


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, movable forward."""
    import config.login

    class Clock:
        now = time.time()

        def time(self):
            return self.now

        def advance(self, seconds):
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(config.login, "time", fake)
    return fake


@pytest.fixture
def marketer(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("marketer", password=PASSWORD)
    user.groups.add(Group.objects.get(name="Marketer"))
    return user


def sign_in(client, username, password, ip="203.0.113.5", otp_token="", **headers):
    return client.post(reverse("login"), {"username": username, "password": password, "otp_token": otp_token},
                       REMOTE_ADDR=ip, **headers)


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_name_even_against_the_right_one(client, marketer, clock):
    for _ in range(4):
        assert b"match. Please try again." in sign_in(client, "marketer", "wrong-guess").content
    assert b"Try again in 1 minute" in sign_in(client, "marketer", "wrong-guess").content

    response = sign_in(client, "Marketer ", PASSWORD, ip="198.51.100.7")  # any spelling, any address
    assert response.status_code == 200
    assert b"Too many failed sign-ins. Try again in 1 minute." in response.content
    assert "_auth_user_id" not in client.session

    clock.advance(61)
    assert sign_in(client, "marketer", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(marketer.pk)


@pytest.mark.django_db
def test_each_failure_past_the_limit_doubles_the_wait(client, marketer, clock):
    for _ in range(5):
        sign_in(client, "marketer", "wrong-guess")
    clock.advance(61)
    assert b"Try again in 2 minutes" in sign_in(client, "marketer", "wrong-guess").content
    clock.advance(121)
    assert b"Try again in 4 minutes" in sign_in(client, "marketer", "wrong-guess").content
    clock.advance(100)
    assert b"Try again in 3 minutes" in sign_in(client, "marketer", PASSWORD).content


@pytest.mark.django_db
def test_a_right_password_forgives_earlier_mistakes(client, marketer, clock):
    for _ in range(4):
        sign_in(client, "marketer", "wrong-guess")
    assert sign_in(client, "marketer", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "marketer", "wrong-guess")
    assert sign_in(client, "marketer", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_one_address_guessing_many_names_is_locked_out_for_all_of_them(client, marketer, settings, clock):
    settings.LOGIN_FAILURES_PER_IP = 6
    for n in range(6):
        sign_in(client, f"someone-{n}", "wrong-guess", ip="192.0.2.66")
    assert b"Too many failed sign-ins" in sign_in(client, "marketer", PASSWORD, ip="192.0.2.66").content
    assert sign_in(client, "marketer", PASSWORD, ip="192.0.2.67").status_code == 302


@pytest.mark.django_db
def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(client, marketer, settings, clock):
    settings.LOGIN_FAILURES_PER_IP = 3
    settings.LOGIN_TRUSTED_PROXIES = 1
    for n in range(3):  # the client's own X-Forwarded-For entries vary; the proxy's does not
        sign_in(client, f"someone-{n}", "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 192.0.2.66")
    assert b"Too many" in sign_in(client, "marketer", PASSWORD, ip="10.0.0.2",
                                  HTTP_X_FORWARDED_FOR="9.9.9.9, 192.0.2.66").content
    assert sign_in(client, "marketer", PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.67").status_code == 302


@pytest.mark.django_db
def test_brute_force_over_http_is_throttled(live_server, marketer, settings):
    """A bounded guessing run against the live server on loopback: after five tries every answer
    is the lock-out, and the right password no longer gets in."""
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = False  # plain HTTP on loopback
    http = requests.Session()
    url = f"{live_server.url}{reverse('login')}"
    answers = []
    deadline = time.monotonic() + 30
    for n in range(25):
        assert time.monotonic() < deadline
        http.get(url, timeout=5)
        answer = http.post(url, data={"username": "marketer", "password": f"guess-{n}",
                                      "csrfmiddlewaretoken": http.cookies["csrftoken"]},
                           headers={"Referer": url}, timeout=5, allow_redirects=False)
        answers.append("locked" if "Too many failed sign-ins" in answer.text else answer.status_code)
    assert answers[:4] == [200] * 4
    assert answers[4:] == ["locked"] * 21
    http.get(url, timeout=5)
    right = http.post(url, data={"username": "marketer", "password": PASSWORD,
                                 "csrfmiddlewaretoken": http.cookies["csrftoken"]},
                      headers={"Referer": url}, timeout=5, allow_redirects=False)
    assert right.status_code == 200 and "Too many failed sign-ins" in right.text


def _code(device, ahead=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + ahead
    return f"{totp.token():0{device.digits}d}"


@pytest.mark.django_db
def test_two_factor_set_up_then_asked_at_every_sign_in(client, marketer):
    client.force_login(marketer)
    page = client.get(reverse("two_factor"))
    assert b"is <strong>off</strong>" in page.content and b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=marketer)
    assert page.context["key"] in page.content.decode()
    assert b"wrong or has expired" in client.post(reverse("two_factor"), {"otp_token": "000000"}).content
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    # A wrong code makes the app wait before the next try (a second after the first mistake).
    assert b"Too many wrong codes" in client.post(reverse("two_factor"), {"otp_token": _code(device)}).content
    time.sleep(1.1)
    client.post(reverse("two_factor"), {"otp_token": _code(device)})
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    client.logout()

    assert b"Enter the 6-digit code" in sign_in(client, "marketer", PASSWORD).content
    assert b"wrong or has expired" in sign_in(client, "marketer", PASSWORD, otp_token="123456").content
    assert "_auth_user_id" not in client.session
    time.sleep(1.1)  # django-otp's wait after a wrong code
    assert sign_in(client, "marketer", PASSWORD, otp_token=_code(device, ahead=30)).status_code == 302
    assert client.get(reverse("home")).wsgi_request.user.is_verified()


@pytest.mark.django_db
def test_wrong_codes_count_as_failed_sign_ins(client, marketer, clock):
    TOTPDevice.objects.create(user=marketer, name="Authenticator app", confirmed=True)
    for _ in range(5):
        sign_in(client, "marketer", PASSWORD, otp_token="000000")
    assert b"Too many failed sign-ins" in sign_in(client, "marketer", PASSWORD, otp_token="000000").content


@pytest.mark.django_db
def test_two_factor_is_turned_off_only_with_a_current_code(client, marketer):
    device = TOTPDevice.objects.create(user=marketer, name="Authenticator app", confirmed=True)
    client.force_login(marketer)
    assert b"is <strong>on</strong>" in client.get(reverse("two_factor")).content
    client.post(reverse("two_factor"), {"otp_token": "000000"})
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    time.sleep(1.1)
    client.post(reverse("two_factor"), {"otp_token": _code(device)})
    assert not TOTPDevice.objects.filter(user=marketer, confirmed=True).exists()


@pytest.mark.django_db
def test_an_idle_session_ends_and_says_why(client, marketer, settings):
    client.force_login(marketer)
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    session["last_activity"] = int(time.time()) - settings.SESSION_IDLE_SECONDS + 30
    session.save()
    # A page refreshing itself does not keep the session alive…
    assert client.get(reverse("home"), HTTP_HX_REQUEST="true").status_code == 200
    assert client.session["last_activity"] < time.time() - settings.SESSION_IDLE_SECONDS + 60
    session = client.session
    session["last_activity"] = int(time.time()) - settings.SESSION_IDLE_SECONDS - 1
    session.save()
    # …and once idle too long, the next page asks to sign in again.
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    login = client.get(response["Location"])
    assert b"signed out after 60 minutes without activity" in login.content


@pytest.mark.django_db
def test_activity_keeps_the_session(client, marketer, settings):
    client.force_login(marketer)
    client.get(reverse("home"))
    session = client.session
    session["last_activity"] = int(time.time()) - settings.SESSION_IDLE_SECONDS + 5
    session.save()
    assert client.get(reverse("home")).status_code == 200
    assert client.session["last_activity"] >= int(time.time()) - 5


@pytest.mark.django_db
def test_weak_passwords_are_refused(client, marketer):
    client.force_login(marketer)
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "password123", "new_password2": "password123"})
    assert response.status_code == 200
    assert b"too short" in response.content and b"too common" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["login", "home", "campaigns:broadcast_list", "healthz"])
def test_every_response_carries_the_security_headers(admin_client, name):
    response = admin_client.get(reverse(name))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_hold_no_code_the_policy_would_block():
    found = [f"{path.relative_to(BASE_DIR)}: {what}"
             for path in sorted((BASE_DIR / "templates").rglob("*.html"))
             for pattern, what in INLINE if pattern.search(path.read_text())]
    assert found == []
