"""Link lists filled from a file or a pasted batch reach MessageWhiz with their links."""

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.link_lists import link_list_import
from campaigns.models import Link, LinkList
from messaging.mirror import SyncState
from messaging.sync.push import mirror_changed
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
    assert remote_urls == {"https://shop.example.com/", "https://blog.example.com/x"}  # stored normalised
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


def remote_links_of(sandbox, link_list):
    [data] = [item for item in sandbox.state("link_lists") if item["id"] == link_list.remote_id]
    links = {link["id"]: link for link in sandbox.state("links")}
    return [links[link_id] for link_id in data["link_ids"]]


def test_import_goes_in_one_request_and_links_get_their_ids(mw_account, sandbox, tmp_path,
                                                            django_capture_on_commit_callbacks):
    path = tmp_path / "links.csv"
    path.write_text("name,url\nSale,https://a.example.com\nSale,https://b.example.com\nSale,https://a.example.com\n")
    with django_capture_on_commit_callbacks() as queued:
        link_list_import(account=mw_account, path=path, mapping={"0": "name", "1": "url"}, name="Promo")
    run_pushes(queued)

    link_list = LinkList.objects.get()
    assert link_list.sync_state == SyncState.SYNCED, link_list.sync_error
    [bulk] = sandbox.requests(method="POST", path=rf"(?i)/linklist/{link_list.remote_id}/links/bulk$")
    assert len(bulk["json"]["links"]) == 3
    assert sandbox.requests(method="POST", path=r"(?i)/api/3/link$") == []  # no link one by one
    remote = remote_links_of(sandbox, link_list)
    local = list(link_list.links.order_by("pk"))
    assert [(link.remote_id, link.url + "/", link.sync_state) for link in local] == [
        (item["id"], item["url"], SyncState.SYNCED) for item in remote]


def test_links_the_server_stores_under_another_url_are_matched_by_order_and_never_duplicated(
        mw_account, sandbox, django_capture_on_commit_callbacks):
    """The sandbox normalises URLs made through links/bulk (host lower case, no default port, a
    trailing slash): matching by the URL sent found none of them, and every push made them again."""
    from campaigns.link_lists import link_list_add_new_links

    urls = ["HTTPS://Shop.Example.COM:443", "https://shop.example.com", "http://Blog.example.com:80?a=1"]
    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    with django_capture_on_commit_callbacks() as queued:
        link_list_add_new_links(account=mw_account, links=[("Shop", u) for u in urls], link_list=link_list)
    run_pushes(queued)

    link_list.refresh_from_db()
    assert link_list.sync_state == SyncState.SYNCED, link_list.sync_error
    remote = remote_links_of(sandbox, link_list)
    assert [item["url"] for item in remote] == [
        "https://shop.example.com/", "https://shop.example.com/", "http://blog.example.com/?a=1"]
    local = list(link_list.links.order_by("pk"))
    assert [(link.url, link.remote_id, link.sync_state) for link in local] == [
        (url, item["id"], SyncState.SYNCED) for url, item in zip(urls, remote, strict=True)]

    with django_capture_on_commit_callbacks() as queued:
        mirror_changed(link_list)
    run_pushes(queued)
    assert len(sandbox.state("links")) == 3
    assert len(sandbox.requests(method="POST", path="(?i)/links/bulk$")) == 1


def test_a_link_pushed_on_its_own_is_left_to_its_list(mw_account, sandbox, django_capture_on_commit_callbacks):
    from messaging.tasks import push_mirror, push_pending

    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    with django_capture_on_commit_callbacks() as queued:
        response_links = [("Shop", "https://shop.example.com"), ("Blog", "https://blog.example.com")]
        from campaigns.link_lists import link_list_add_new_links

        link_list_add_new_links(account=mw_account, links=response_links, link_list=link_list)
    # Beat's catch-up and an admin "push now" reach the links before the list's own push runs.
    push_pending.apply()
    for link in Link.objects.all():
        run_like_a_worker(lambda link=link: push_mirror.delay("campaigns.Link", link.pk))
    assert sandbox.requests() == []  # the list's own push is queued already: no second one
    run_pushes(queued)

    assert sandbox.requests(method="POST", path=r"(?i)/api/3/link$") == []
    assert len(sandbox.state("links")) == 2
    assert set(Link.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}


def test_lost_answer_to_the_bulk_add_makes_no_duplicates(mw_account, sandbox, settings,
                                                          django_capture_on_commit_callbacks):
    from campaigns.link_lists import link_list_add_new_links

    settings.MESSAGEWHIZ_READ_TIMEOUT = 0.5
    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    with django_capture_on_commit_callbacks() as queued:
        link_list_add_new_links(account=mw_account, links=[("Shop", "https://shop.example.com")], link_list=link_list)
    sandbox.faults(path="(?i)/links/bulk$", fail_next=[{"hang": 2, "apply": True}])
    run_pushes(queued)

    link_list.refresh_from_db()
    assert link_list.sync_state == SyncState.SYNCED, link_list.sync_error
    assert len(sandbox.requests(method="POST", path="(?i)/links/bulk$")) == 1
    [link] = Link.objects.all()
    assert [item["id"] for item in remote_links_of(sandbox, link_list)] == [link.remote_id]
    assert len(sandbox.state("links")) == 1


@pytest.mark.django_db(transaction=True)
def test_links_get_their_ids_in_a_few_statements_and_one_edited_meanwhile_stays_pending(mw_account, sandbox):
    from campaigns.link_lists import link_list_add_new_links

    sandbox.faults(path="(?i)/links/bulk$", fail_next=[{"hang": 1, "apply": True}])

    def edit_while_the_request_is_on_its_way():
        try:
            deadline = time.monotonic() + 10
            while not sandbox.requests(method="POST", path="(?i)/links/bulk$") and time.monotonic() < deadline:
                time.sleep(0.02)
            link = Link.objects.get(name="Offer 7")
            link.name = "Offer 7, renamed"
            mirror_changed(link)  # its own push leaves the link to the list's, which is creating it
        finally:
            connection.close()

    editor = threading.Thread(target=edit_while_the_request_is_on_its_way)
    editor.start()
    with CaptureQueriesContext(connection) as queries:
        # The list's push runs as the transaction commits (eager Celery, as a worker would run it).
        link_list = link_list_add_new_links(account=mw_account, link_list=None, name="Rotate", links=[
            (f"Offer {i}", f"https://shop.example.com/{i}") for i in range(50)])
    editor.join()

    link_list.refresh_from_db()
    assert link_list.sync_state == SyncState.SYNCED, link_list.sync_error
    assert len(sandbox.requests(method="POST", path="(?i)/links/bulk$")) == 1
    remote = {item["url"]: item["id"] for item in remote_links_of(sandbox, link_list)}
    links = list(Link.objects.order_by("pk"))
    assert [link.remote_id for link in links] == [remote[link.url] for link in links]
    assert {link.name: link.sync_state for link in links if link.sync_state != SyncState.SYNCED} == {
        "Offer 7, renamed": SyncState.PENDING}  # the rename's own push follows
    link_updates = [q for q in queries if q["sql"].startswith('UPDATE "campaigns_link"')]
    assert len(link_updates) <= 3  # not one per link


def test_ten_thousand_links_are_imported_in_one_request(mw_account, sandbox, tmp_path,
                                                        django_capture_on_commit_callbacks):
    path = tmp_path / "links.csv"
    path.write_text("name,url\n" + "".join(f"Offer,https://shop.example.com/{i}\n" for i in range(10_000)))
    with django_capture_on_commit_callbacks() as queued:
        link_list_import(account=mw_account, path=path, mapping={"0": "name", "1": "url"}, name="Big")
    run_pushes(queued)

    link_list = LinkList.objects.get()
    assert link_list.sync_state == SyncState.SYNCED, link_list.sync_error
    assert len(sandbox.requests(method="POST", path="(?i)/links/bulk$")) == 1
    assert Link.objects.filter(sync_state=SyncState.SYNCED).exclude(remote_id=None).count() == 10_000
    assert len(remote_links_of(sandbox, link_list)) == 10_000


def test_link_list_page_shows_members_a_page_at_a_time_and_adds_by_search(admin_client, mw_account):
    links = Link.objects.bulk_create(
        Link(account=mw_account, name=f"Offer {i:04d}", url=f"https://shop.example.com/{i}") for i in range(3000))
    link_list = LinkList.objects.create(account=mw_account, name="Rotate")
    link_list.links.set(links[:60])
    url = reverse("campaigns:linklist_edit", args=[link_list.pk])

    page = admin_client.get(url).content.decode()
    assert "multiple" not in page  # no <select multiple> of every link
    assert page.count('name="links_remove"') == 25 and "60 in this list" in page
    assert "members_page=2" in page

    found = admin_client.get(url, {"members_q": "Offer 00"}).content.decode()
    assert found.count('name="links_add"') == 20  # a bounded search, never the whole table
    assert f'id="add_{links[1].pk}"' not in found  # already a member: offered for removal, not for adding
    assert f'id="add_{links[60].pk}"' in found

    response = admin_client.post(url, {"name": "Rotate", "links_add": [links[2500].pk],
                                       "links_remove": [links[0].pk, links[1].pk]})
    assert response.status_code == 302
    members = set(link_list.links.values_list("pk", flat=True))
    assert links[2500].pk in members and links[0].pk not in members and len(members) == 59
