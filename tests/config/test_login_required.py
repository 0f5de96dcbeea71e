import re

import pytest
from django.urls import URLResolver, get_resolver, resolve, reverse

# Reachable without signing in, each for a reason. Static files are served by whitenoise before
# URL routing and are not URL patterns.
PUBLIC = {
    "healthz",  # load balancers
    "login", "admin:login",
    # Django's password reset: the link in the e-mail is the credential.
    "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    # Providers post reports and clicks; the secret token in the URL authenticates them.
    "callbacks:dlr", "callbacks:dlr_batch", "callbacks:click", "callbacks:ping",
    "provider_callbacks:dlr", "provider_callbacks:inbound",
    # Recipients open the links in their messages; the signed token in the URL names the message.
    "link_redirect", "optout",
    # Back-office systems call these with a bearer token (messaging.api_auth).
    "campaigns:api_otp_send", "campaigns:api_otp_verify",
}
SAMPLE = {"int": "1", "str": "x", "path": "x", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000000"}


def url_patterns(patterns=None, prefix="", namespace=""):
    """(name, an example URL) of every URL pattern, the included ones too."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, route,
                                    f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            continue
        name = f"{namespace}{pattern.name or route}"
        if name not in PUBLIC:
            yield name, "/" + example(route)


def example(route: str) -> str:
    """A path matching the route: converters get a sample value; a regex group its first
    alternative (admin's app list) or "x"."""
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE[m.group(1) or "str"], route)
    route = re.sub(r"\(\?P<\w+>(\w*)[^)]*\)", lambda m: m.group(1) or "x", route)
    return route.replace("^", "").replace("$", "")


PATTERNS = dict(url_patterns())


def test_every_pattern_is_walked():
    for name, url in PATTERNS.items():
        match = resolve(url)
        assert f"{match.namespace}:{match.url_name}".lstrip(":") == name or match.url_name is None, (name, url)
    assert {"home", "campaigns:broadcast_detail", "callbacks:settings", "admin:index"} <= set(PATTERNS)
    assert len(PATTERNS) > 100  # the admin's pages included


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url"), PATTERNS.items(), ids=PATTERNS.keys())
def test_every_page_redirects_anonymous_users_to_login(client, name, url):
    response = client.get(url)
    assert response.status_code == 302, (name, url, response.status_code)
    assert response["Location"].split("?")[0] in (reverse("login"), reverse("admin:login")), response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PUBLIC - {"password_reset_confirm"}))
def test_public_endpoints_answer_without_login(client, name):
    tokened = name.startswith(("callbacks:", "provider_callbacks:")) or name in ("link_redirect", "optout")
    url = reverse(name, kwargs={"token": "x"} if tokened else None)
    response = client.get(url)
    assert "login" not in response.get("Location", ""), (name, response.status_code)


@pytest.mark.django_db
def test_signed_in_user_sees_the_dashboard(client, django_user_model):
    django_user_model.objects.create_user("marketer", password="a-long-passphrase-42")
    response = client.post(reverse("login"), {"username": "marketer", "password": "a-long-passphrase-42"})
    assert response.status_code == 302
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert b"Overview" in page.content


@pytest.mark.django_db
def test_wrong_password_shows_an_error(client, django_user_model):
    django_user_model.objects.create_user("marketer", password="a-long-passphrase-42")
    response = client.post(reverse("login"), {"username": "marketer", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


@pytest.mark.django_db
def test_health_check_needs_no_login(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_static_files_are_served(client):
    # whitenoise serves /static/ (with finders in tests); the stylesheet must be reachable.
    from django.contrib.staticfiles import finders

    assert finders.find("css/app.css")
