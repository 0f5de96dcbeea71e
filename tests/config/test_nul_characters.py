"""A NUL character in a request is refused with 400 everywhere (PostgreSQL cannot hold one in text),
rather than reaching a query and ending in a 500. CI runs these on PostgreSQL."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

SEARCHES = ["campaigns:broadcast_list", "campaigns:campaign_list", "campaigns:link_list", "messaging:sender_list",
            "messaging:account_list", "recipients:list_index", "recipients:unsubscribe_index", "providers:list"]


@pytest.mark.parametrize("name", SEARCHES)
def test_a_search_for_nul_is_refused(admin_client, name):
    url = reverse(name)
    assert admin_client.get(url, {"q": "Autumn"}).status_code == 200
    response = admin_client.get(f"{url}?q=Aut%00umn")
    assert response.status_code == 400
    assert response.content == b"The request contains a NUL character."
    assert admin_client.get(f"{url}?q%00=1").status_code == 400  # in a name too


def test_nul_in_a_form_field_is_refused_and_nothing_is_saved(admin_client, mw_account):
    from messaging.models import Sender

    response = admin_client.post(reverse("messaging:sender_create"), {"account": mw_account.pk, "name": "Shop\x00Co"})
    assert response.status_code == 400
    assert not Sender.objects.exists()


def test_nul_in_a_callback_token_is_an_unknown_token(client, db):
    # A callback URL is public (its token authenticates it): a malformed token is a bare 404, never
    # a database error.
    assert client.post("/callbacks/ab%00cd/dlr", data="{}", content_type="application/json").status_code == 404


def test_files_may_hold_nul_bytes(admin_client, db):
    upload = SimpleUploadedFile("phones.csv", b"Phone\n380501234567\n\x00\n", content_type="text/csv")
    response = admin_client.post(reverse("recipients:import_upload", args=["recipients"]), {"file": upload})
    assert response.status_code != 400
