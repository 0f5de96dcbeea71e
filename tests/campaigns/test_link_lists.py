"""Link lists filled from a file or a pasted batch reach MessageWhiz with their links."""

import pytest
from django.urls import reverse

from campaigns.link_lists import link_list_import
from campaigns.models import Link, LinkList
from messaging.mirror import SyncState
from recipients.errors import ImportProblem, MappingError
from tests.conftest import run_like_a_worker


def run_pushes(callbacks):
    for push in callbacks:
        run_like_a_worker(push)


def test_import_csv_creates_list_and_links_remotely(mw_account, sandbox, tmp_path, django_capture_on_commit_callbacks):
    path = tmp_path / "links.csv"
    path.write_text("name;url\nShop;https://shop.example.com\nBad;not a url\nBlog;https://blog.example.com/x\n")
    with django_capture_on_commit_callbacks() as queued:
        result = link_list_import(account=mw_account, path=path, mapping={"0": "name", "1": "url"}, name="Promo")
    assert result.inserted == 2
    assert result.rejected == [(3, "not a url", "not a valid URL (it must start with http:// or https://)")]
    run_pushes(queued)

    link_list = LinkList.objects.get(name="Promo")
    assert link_list.sync_state == SyncState.SYNCED, link_list.sync_error
    remote = sandbox.state("link_lists")[0]
    remote_urls = {link["url"] for link in sandbox.state("links") if link["id"] in remote["link_ids"]}
    assert remote_urls == {"https://shop.example.com", "https://blog.example.com/x"}
    assert set(Link.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}


def test_mapping_without_url_column_is_refused(mw_account, tmp_path):
    path = tmp_path / "links.csv"
    path.write_text("name,url\nShop,https://shop.example.com\n")
    with pytest.raises(MappingError, match="URLs"):
        link_list_import(account=mw_account, path=path, mapping={"0": "name"}, name="X")
    assert not LinkList.objects.exists()


def test_file_without_valid_links_is_refused_and_nothing_is_created(mw_account, tmp_path):
    path = tmp_path / "links.csv"
    path.write_text("url\nnope\n")
    with pytest.raises(ImportProblem, match="no valid links"):
        link_list_import(account=mw_account, path=path, mapping={"0": "url"}, name="X")
    assert not Link.objects.exists() and not LinkList.objects.exists()


def test_dashboard_bulk_add_of_new_links(admin_client, mw_account, sandbox, django_capture_on_commit_callbacks):
    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(reverse("campaigns:linklist_add_links", args=[link_list.pk]),
                                     {"links": "Shop, https://shop.example.com\nhttps://blog.example.com\nbroken"})
    assert response.status_code == 200
    assert "broken" in response.content.decode()  # the bad line is shown, nothing saved
    assert not Link.objects.exists()

    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(reverse("campaigns:linklist_add_links", args=[link_list.pk]),
                                     {"links": "Shop, https://shop.example.com\nhttps://blog.example.com"})
    assert response.status_code == 302
    run_pushes(queued)
    link_list.refresh_from_db()
    assert link_list.sync_state == SyncState.SYNCED
    assert sorted(link_list.links.values_list("name", flat=True)) == ["Shop", "https://blog.example.com"]
    assert len(sandbox.state("link_lists")[0]["link_ids"]) == 2


def test_dashboard_file_import_reports_skipped_rows(admin_client, mw_account, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    upload = SimpleUploadedFile("links.csv", b"name,url\nShop,https://shop.example.com\nOops,ftp:/x\n")
    response = admin_client.post(reverse("campaigns:linklist_import", args=[link_list.pk]),
                                 {"file": upload, "url_column": 2, "name_column": 1, "has_header": "on"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Added 1 link(s)" in page and "ftp:/x" in page
    assert list(link_list.links.values_list("name", flat=True)) == ["Shop"]


def test_dashboard_file_import_of_an_empty_file_says_so(admin_client, mw_account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    response = admin_client.post(reverse("campaigns:linklist_import", args=[link_list.pk]),
                                 {"file": SimpleUploadedFile("links.csv", b""), "url_column": 1})
    assert response.status_code == 200
    assert "empty" in response.content.decode()
