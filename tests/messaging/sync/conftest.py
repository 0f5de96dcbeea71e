import pytest
from django.core.cache import cache

from messaging.sync import resources
from messaging.sync.pull import _cache_key
from messaging.sync.push import mirror_changed
from tests.conftest import run_like_a_worker


@pytest.fixture(autouse=True)
def _no_pull_left_over(request):
    """Pull statuses and locks live in the cache, which outlives a test's rows: this test's account
    may have the id of one an earlier test left with a pull "queued"."""
    if "mw_account" in request.fixturenames:
        account_id = request.getfixturevalue("mw_account").pk
        cache.delete_many([_cache_key(what, account_id, resource.key)
                           for what in ("pull", "pull-lock") for resource in resources.all_resources()])


@pytest.fixture
def save(django_capture_on_commit_callbacks):
    """Save a local edit the way every form and admin action does, then run the queued push task
    as a worker would, including its retries (eager Celery raises Retry instead of re-running)."""

    def run(obj):
        with django_capture_on_commit_callbacks() as queued:
            mirror_changed(obj)
        for push in queued:
            run_like_a_worker(push)
        obj.refresh_from_db()
        return obj

    return run


def remote(sandbox, collection, remote_id):
    """The sandbox's own record of one object."""
    matches = [item for item in sandbox.state(collection) if item["id"] == remote_id]
    assert len(matches) == 1, matches
    return matches[0]
