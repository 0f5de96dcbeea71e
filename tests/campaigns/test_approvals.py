"""Four-eyes: a broadcast over its account's approval threshold goes out only once someone other
than its composer approves it (campaigns.approvals), with the sandbox as MessageWhiz."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.estimates import broadcast_estimate
from campaigns.models import Broadcast
from messaging.models import AuditEvent

S = Broadcast.State


@pytest.fixture
def people(role_user):
    """The composer (a marketer who is also an approver), and a colleague approver."""
    from django.contrib.auth.models import Group

    composer = role_user("Marketer", "maria")
    composer.groups.add(Group.objects.get(name="Approver"))
    return {"composer": composer, "approver": role_user("Approver", "olga"), "viewer": role_user("Viewer", "vic")}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def over_threshold(mw_account, make_broadcast, people):
    """A 3-recipient broadcast, estimated, on an account whose threshold is 2."""
    mw_account.approval_threshold = 2
    mw_account.save()
    return lambda **fields: broadcast_estimate(make_broadcast(**{"created_by": people["composer"], **fields}))


def broadcasts_sent(sandbox) -> int:
    return len(sandbox.state("broadcasts"))


def test_a_broadcast_over_the_threshold_waits_for_someone_else(over_threshold, people, sandbox,
                                                                  django_capture_on_commit_callbacks):
    broadcast = over_threshold()
    composer, approver = client_for(people["composer"]), client_for(people["approver"])
    with django_capture_on_commit_callbacks(execute=True):
        page = composer.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]), follow=True)
    assert "waits on the Approvals page" in page.content.decode()
    broadcast.refresh_from_db()
    assert broadcast.state == S.AWAITING_APPROVAL and broadcasts_sent(sandbox) == 0
    assert broadcast.name in approver.get(reverse("campaigns:approvals")).content.decode()

    # Its composer holds the approve permission too, and is still refused.
    with django_capture_on_commit_callbacks(execute=True):
        page = composer.post(reverse("campaigns:broadcast_approve", args=[broadcast.pk]), follow=True)
    assert "You composed “Autumn sale”: someone else with the approve permission must approve it" in (
        page.content.decode())
    broadcast.refresh_from_db()
    assert broadcast.state == S.AWAITING_APPROVAL and broadcasts_sent(sandbox) == 0
    # Someone who may only read can't approve at all.
    assert client_for(people["viewer"]).post(reverse("campaigns:broadcast_approve", args=[broadcast.pk])
                                             ).status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        approver.post(reverse("campaigns:broadcast_approve", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED and broadcasts_sent(sandbox) == 1
    trail = [(e.to_state, e.actor.username if e.actor else None) for e in broadcast.events.all()]
    assert (S.AWAITING_APPROVAL, "maria") in trail and (S.SCHEDULED, "olga") in trail
    assert any(e.reason == "Approved by olga: sending now" for e in broadcast.events.all())
    audit = AuditEvent.objects.filter(object_id=str(broadcast.pk), object_type="campaigns.broadcast")
    assert [(e.action, e.actor_name) for e in audit.filter(action__in=("send", "approve")).order_by("pk")] == [
        ("send", "maria"), ("approve", "olga")]


def test_approving_twice_sends_once(over_threshold, people, sandbox, django_capture_on_commit_callbacks):
    broadcast = over_threshold()
    client_for(people["composer"]).post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    approver = client_for(people["approver"])
    with django_capture_on_commit_callbacks(execute=True):
        approver.post(reverse("campaigns:broadcast_approve", args=[broadcast.pk]))
        page = approver.post(reverse("campaigns:broadcast_approve", args=[broadcast.pk]), follow=True)
    assert "not awaiting approval" in page.content.decode()
    assert broadcasts_sent(sandbox) == 1


def test_rejection_needs_a_reason_and_returns_it_to_draft(over_threshold, people, sandbox):
    broadcast = over_threshold()
    client_for(people["composer"]).post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    approver = client_for(people["approver"])
    page = approver.post(reverse("campaigns:broadcast_reject", args=[broadcast.pk]), {"reason": " "}, follow=True)
    assert "Say why you reject it" in page.content.decode()
    broadcast.refresh_from_db()
    assert broadcast.state == S.AWAITING_APPROVAL
    approver.post(reverse("campaigns:broadcast_reject", args=[broadcast.pk]), {"reason": "Wrong list"})
    broadcast.refresh_from_db()
    assert broadcast.state == S.DRAFT and broadcasts_sent(sandbox) == 0
    page = client_for(people["composer"]).get(reverse("campaigns:broadcast_detail", args=[broadcast.pk]))
    assert "Rejected by olga: Wrong list" in page.content.decode()


def test_a_scheduled_broadcast_keeps_its_time_or_goes_at_approval_when_it_has_passed(
        over_threshold, people, sandbox, django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(days=3)
    scheduled, overdue = over_threshold(send_at=later), over_threshold(name="Flash sale")
    composer, approver = client_for(people["composer"]), client_for(people["approver"])
    for broadcast in (scheduled, overdue):
        composer.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    # The second one's time passes while it waits.
    Broadcast.objects.filter(pk=overdue.pk).update(send_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        for broadcast in (scheduled, overdue):
            approver.post(reverse("campaigns:broadcast_approve", args=[broadcast.pk]))
    scheduled.refresh_from_db()
    overdue.refresh_from_db()
    assert scheduled.state == S.SCHEDULED and scheduled.send_at == later
    assert overdue.state == S.SUBMITTED
    assert [b["name"].startswith("Flash sale") for b in sandbox.state("broadcasts")] == [True]


def test_superusers_approve_their_own_only_where_the_account_allows(over_threshold, mw_account, sandbox,
                                                                    django_user_model,
                                                                    django_capture_on_commit_callbacks):
    boss = django_user_model.objects.create_superuser("boss")
    broadcast = over_threshold(created_by=boss)
    boss_client = client_for(boss)
    boss_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    page = boss_client.post(reverse("campaigns:broadcast_approve", args=[broadcast.pk]), follow=True)
    assert "four-eyes rule" in page.content.decode()
    mw_account.superusers_approve_own = True
    mw_account.save()
    with django_capture_on_commit_callbacks(execute=True):
        boss_client.post(reverse("campaigns:broadcast_approve", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED and broadcasts_sent(sandbox) == 1


def test_at_or_under_the_threshold_a_confirmation_sends(over_threshold, mw_account, people, sandbox,
                                                        django_capture_on_commit_callbacks):
    mw_account.approval_threshold = 3
    mw_account.save()
    broadcast = over_threshold()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(people["composer"]).post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == S.SUBMITTED and broadcasts_sent(sandbox) == 1


def test_pasted_numbers_over_the_threshold_are_refused_before_anything_is_sent(mw_account, sandbox):
    from campaigns.singles import SingleProblem, pasted_send

    mw_account.approval_threshold = 1
    mw_account.save()
    with pytest.raises(SingleProblem, match="2 numbers are more than this account sends to without a second"):
        pasted_send(account=mw_account, sender="ShopCo", numbers="380501234567\n380501234568", text="Hi")
    assert sandbox.requests(method="POST") == [] and not Broadcast.objects.exists()
    assert pasted_send(account=mw_account, sender="ShopCo", numbers="380501234567", text="Hi").state == S.SUBMITTED
