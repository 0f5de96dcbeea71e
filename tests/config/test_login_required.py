import pytest
from django.urls import reverse

PAGES = ["home", "messaging:account_list", "admin:index"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_pages_redirect_anonymous_users_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "login" in response["Location"]


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
