"""Compose → review → confirm, as a marketer does it in the dashboard."""

import json

import pytest
from django.urls import reverse

from campaigns import rendering
from campaigns.compose import ComposeForm
from campaigns.estimates import TYPICAL_RECIPIENT, broadcast_estimate
from campaigns.models import Broadcast, RecurringBroadcast, Template, WordSpinner
from messaging.mirror import SyncState
from messaging.models import GenericProviderConfig, ProviderAccount

from .conftest import synced
from .test_sending import run_task


def compose_data(audience, **extra):
    return {"account": audience["campaign"].account_id, "name": "Autumn", "campaign": audience["campaign"].pk,
            "type": 11, "senders": [audience["sender"].pk], "recipient_lists": [audience["list"].pk],
            "body": "Hi {{first_name}}, 20% off", "when": "now", "zone": "UTC", **extra}


def test_compose_review_and_send_now(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    page = admin_client.get(reverse("campaigns:compose"))
    assert page.status_code == 200 and b'data-sms-counter="sms-count"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("campaigns:compose"), compose_data(audience))
    broadcast = Broadcast.objects.get()
    assert response["Location"] == reverse("campaigns:broadcast_review", args=[broadcast.pk])
    review = admin_client.get(response["Location"]).content.decode()
    assert "Hi , 20% off" in review  # rendered for real recipients (no first names in this list)
    assert "Send <strong>3</strong> messages" in review
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1


def test_compose_explains_what_is_missing(admin_client, audience):
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience, body="", recipient_lists=[],
                                                                            when="later"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Write a message or choose a template." in page
    assert "Choose at least one recipient list." in page
    assert "Choose when to send." in page
    assert not Broadcast.objects.exists()


def test_compose_scheduled_in_local_time(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(
            audience, when="later", local_time="2031-07-06T10:00", zone="Europe/Kyiv"))
    broadcast = Broadcast.objects.get()
    assert broadcast.send_at.isoformat() == "2031-07-06T07:00:00+00:00"
    admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SCHEDULED


def test_compose_recurring(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(
            audience, when="recurring", repeat_days="1", repeat_time="10:00", zone="Europe/Kyiv"))
    broadcast = Broadcast.objects.get()
    admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    recurrence = RecurringBroadcast.objects.get()
    assert recurrence.enabled and recurrence.periodic_task.enabled
    listing = admin_client.get(reverse("campaigns:broadcast_list")).content.decode()
    assert "mondays at 10:00 Europe/Kyiv" in listing


def test_counter_counts_tokens_at_the_estimate_lengths(admin_client, audience, mw_account):
    WordSpinner.objects.create(account=mw_account, name="Hello", words=["Hi", "Good morning"], remote_id=9,
                               sync_state=SyncState.SYNCED)
    form = ComposeForm()
    values = json.loads(form.fields["body"].widget.attrs["data-token-values"])
    assert values["first_name"] == TYPICAL_RECIPIENT["first_name"]
    assert values["link:*"] == values["link_list:*"] == rendering.SHORT_LINK
    assert values["word_spinner:9"] == "Good morning"  # the longest, as the estimate assumes
    page = admin_client.get(reverse("campaigns:compose")).content.decode()
    assert "data-token-values" in page and "Tokens are counted at typical lengths" in page


def test_manual_smart_broadcast_with_segment_templates(admin_client, audience, mw_account, mw, sandbox,
                                                        django_capture_on_commit_callbacks):
    templates = [synced(Template, mw_account, mw.template_create(name=n, body=f"{n} {{{{first_name}}}}"), name=n,
                        body=f"{n} {{{{first_name}}}}") for n in ("A", "B")]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(
            audience, type=12, eb_type="manual", first_segment_size=2, templates=[t.pk for t in templates]))
    broadcast = Broadcast.objects.get()
    assert list(broadcast.templates.all()) == templates
    assert broadcast.state == Broadcast.State.ESTIMATED
    [estimate] = sandbox.requests(method="POST", path="(?i)/Broadcast/estimate$")
    assert estimate["json"]["template_ids"] == f"{templates[0].remote_id},{templates[1].remote_id}"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    [submitted] = sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast$")
    assert submitted["json"]["template_ids"] == f"{templates[0].remote_id},{templates[1].remote_id}"


def test_token_errors_in_segment_templates_stop_estimate_and_sending(audience, mw_account, mw, sandbox,
                                                                      make_broadcast):
    bad = synced(Template, mw_account, mw.template_create(name="Typo", body="Hi {{frist_name}}"), name="Typo",
                 body="Hi {{frist_name}}")
    broadcast = make_broadcast(type=12, eb_type="manual", first_segment_size=2)
    broadcast.templates.set([bad])
    broadcast = broadcast_estimate(broadcast)
    [problem] = broadcast.local_estimate["problems"]
    assert problem["message"].startswith("in template “Typo”: unknown token {{frist_name}}")
    assert broadcast.state == Broadcast.State.DRAFT
    broadcast = run_task(broadcast)  # the sending side checks the same way
    assert "in template “Typo”" in broadcast.last_error
    assert sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast$") == []


def test_segment_templates_only_for_manual_smart_broadcasts(admin_client, audience, mw_account):
    template = Template.objects.create(account=mw_account, name="A", body="A", remote_id=5, sync_state=SyncState.SYNCED)
    page = admin_client.post(reverse("campaigns:compose"), compose_data(audience, templates=[template.pk]))
    assert "Segment templates are for manual smart broadcasts" in page.content.decode()
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize(("extra", "error"), [
    ({"when": "later", "local_time": "2031-07-06T10:00", "zone": "Mars/Olympus"}, "Select a valid choice"),
    ({"when": "recurring", "repeat_days": "1", "repeat_time": "10:00", "zone": "../etc"}, "Select a valid choice"),
])
def test_unknown_time_zones_are_refused(admin_client, audience, extra, error):
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience, **extra))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize("extra", [
    {"when": "later", "local_time": "2031-07-06T10:00", "zone": "Pacific/Kiritimati"},  # UTC+14:00
    {"when": "later", "local_time": "2031-01-06T10:00", "zone": "Pacific/Auckland"},  # UTC+13:00 in summer
    {"when": "recurring", "repeat_days": "1", "repeat_time": "10:00", "zone": "Pacific/Auckland"},
])
def test_zones_beyond_twelve_hours_are_fine_as_dates_go_out_in_utc(admin_client, audience, extra):
    """MessageWhiz's utc_offset stops at ±12:00, but every date goes out in UTC with offset 0."""
    response = admin_client.post(reverse("campaigns:compose"), compose_data(audience, **extra))
    assert response.status_code == 302, response.content.decode()[:2000]


def test_zone_is_only_kept_for_a_chosen_time(admin_client, audience, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("campaigns:compose"), compose_data(audience, zone="Pacific/Kiritimati"))
    assert Broadcast.objects.get().time_zone == "UTC"  # "now": nothing to convert, nothing to refuse


def test_confirm_needs_a_finished_estimate_without_errors(admin_client, audience, make_broadcast, sandbox,
                                                          django_capture_on_commit_callbacks):
    url = lambda broadcast: reverse("campaigns:broadcast_confirm", args=[broadcast.pk])  # noqa: E731
    draft = make_broadcast()  # never estimated
    broken = broadcast_estimate(make_broadcast(body="Hi {{frist_name}}"))
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(url(draft), follow=True)
        assert "The estimate is still running" in response.content.decode()
        response = admin_client.post(url(broken), follow=True)
        assert "Fix the problems in the message" in response.content.decode()
    assert queued == []
    assert sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast$") == []
    assert {b.state for b in Broadcast.objects.all()} == {Broadcast.State.DRAFT}


def test_confirming_twice_sends_once(admin_client, audience, make_broadcast, sandbox,
                                     django_capture_on_commit_callbacks):
    broadcast = broadcast_estimate(make_broadcast())
    url = reverse("campaigns:broadcast_confirm", args=[broadcast.pk])
    with django_capture_on_commit_callbacks() as queued:
        admin_client.post(url)
        response = admin_client.post(url, follow=True)
    assert "“Autumn sale” is already scheduled; it can" in response.content.decode()
    assert len(queued) == 1
    for callback in queued:
        callback()
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert [e.reason for e in broadcast.events.all()][1:3] == ["Confirmed: sending now", "Submitting to MessageWhiz"]


def test_a_confirmed_send_whose_task_was_lost_is_sent_by_the_sweep(admin_client, make_broadcast, sandbox,
                                                                   django_capture_on_commit_callbacks):
    from campaigns.tasks import submit_due_broadcasts

    broadcast = broadcast_estimate(make_broadcast())
    with django_capture_on_commit_callbacks() as queued:  # queued, never run: the broker lost it
        admin_client.post(reverse("campaigns:broadcast_confirm", args=[broadcast.pk]))
    assert len(queued) == 1
    submit_due_broadcasts.apply(throw=True)  # beat, a minute later
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    assert len(sandbox.state("broadcasts")) == 1
    assert "send_date" not in sandbox.requests(method="POST", path="(?i)^/api/3/Broadcast$")[0]["json"]


def test_default_sms_provider_is_preselected(admin_client, mw_account):
    generic = ProviderAccount.objects.create(name="Bulk SMS", kind=ProviderAccount.Kind.GENERIC, api_key="-")
    GenericProviderConfig.objects.create(account=generic, endpoint="https://sms.example.com/send", is_default=True)
    page = admin_client.get(reverse("campaigns:compose")).content.decode()
    assert f'<option value="{generic.pk}" selected>' in page
    GenericProviderConfig.objects.filter(account=generic).update(channel=GenericProviderConfig.Channel.WHATSAPP)
    page = admin_client.get(reverse("campaigns:compose")).content.decode()
    assert f'<option value="{generic.pk}" selected>' not in page  # the WhatsApp default is not SMS's


def test_a_wider_window_is_a_field_error_without_the_permission(client, audience, django_user_model):
    from django.contrib.auth.models import Permission

    from messaging.models import SendingPolicy

    SendingPolicy.objects.create(account=audience["campaign"].account, window_start="08:00", window_end="21:00")
    from django.contrib.auth.models import Group

    marketer = django_user_model.objects.create_user("marketer")
    marketer.groups.add(Group.objects.get(name="Marketer"))  # the Marketer role does not widen windows
    client.force_login(marketer)
    # 07:00 and 22:00 widen the account's 08:00-21:00, 09:00 narrows it.
    response = client.post(reverse("campaigns:compose"), compose_data(audience, window_start="07:00",
                                                                      window_end="22:00"))
    assert response.status_code == 200, response
    page = response.content.decode()
    assert page.count("only users allowed to widen it may") == 2 and not Broadcast.objects.exists()
    page = client.post(reverse("campaigns:compose"), compose_data(audience, window_start="12:00",
                                                                  window_end="10:00")).content.decode()
    assert "The window must end after it starts." in page and not Broadcast.objects.exists()

    response = client.post(reverse("campaigns:compose"), compose_data(audience, window_start="09:00"))
    assert response.status_code == 302
    assert Broadcast.objects.get().window_start.hour == 9

    marketer.user_permissions.add(Permission.objects.get(codename="widen_sending_window"))
    client.force_login(django_user_model.objects.get(pk=marketer.pk))
    response = client.post(reverse("campaigns:compose"), compose_data(audience, name="Early", window_start="07:00"))
    assert response.status_code == 302
    assert Broadcast.objects.get(name="Early").window_start.hour == 7
