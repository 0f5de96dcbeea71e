"""A/B tests as a marketer composes them, and as they go out through MessageWhiz (the sandbox, over
real HTTP): field errors for what can't be tested, one recipient list per sample uploaded to
MessageWhiz, the winner once to exactly the rest; and the z-test against a worked example."""

import math
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from campaigns.abtests import decision_for, two_proportion_z_test
from campaigns.models import AbTest, Broadcast
from campaigns.tasks import abtest_sweep, submit_broadcast
from recipients.models import Recipient, RecipientList

from .conftest import synced
from .test_compose import compose_data


def ab_data(audience, *variants, **extra):
    data = compose_data(audience, ab_test="on", ab_share="20", ab_metric="ctr", ab_hours="4",
                        **{"variant-TOTAL_FORMS": str(max(3, len(variants))), "variant-INITIAL_FORMS": "0"})
    for index, body in enumerate(variants):
        data[f"variant-{index}-body"] = body
    data.update(extra)
    return data


def errors_of(response) -> str:
    assert response.status_code == 200
    assert not Broadcast.objects.exists() and not AbTest.objects.exists()  # nothing half-written
    return response.content.decode()


def test_compose_an_ab_test_and_edit_it_again(admin_client, audience):
    response = admin_client.post(reverse("campaigns:compose"), ab_data(audience, "B: 30% off", "C: free delivery"))
    broadcast = Broadcast.objects.get()
    assert response["Location"] == reverse("campaigns:broadcast_review", args=[broadcast.pk])
    test = AbTest.objects.get(broadcast=broadcast)
    assert (test.share, test.metric, test.decide_after) == (20, "ctr", timedelta(hours=4))
    assert [(v.label, v.body) for v in test.variants.all()] == [
        ("A", "Hi {{first_name}}, 20% off"), ("B", "B: 30% off"), ("C", "C: free delivery")]
    assert len(test.seed) == 32
    review = admin_client.get(response["Location"]).content.decode()
    assert "3 variants to 20% of the recipients" in review and "C: free delivery" in review

    edit = admin_client.get(reverse("campaigns:broadcast_edit", args=[broadcast.pk])).content.decode()
    assert "C: free delivery" in edit and 'id="id_ab_test" checked' in edit
    admin_client.post(reverse("campaigns:broadcast_edit", args=[broadcast.pk]), ab_data(audience, "B: 30% off"))
    assert [v.label for v in AbTest.objects.get(broadcast=broadcast).variants.all()] == ["A", "B"]
    admin_client.post(reverse("campaigns:broadcast_edit", args=[broadcast.pk]), compose_data(audience))
    assert not AbTest.objects.exists()  # an ordinary broadcast again


@pytest.mark.parametrize(("change", "error"), [
    ({"ab_share": "0"}, "The test share must be 1 to 99%: 0% tests no one, 100% leaves no one for the winner."),
    ({"ab_share": "100"}, "The test share must be 1 to 99%"),
    ({"ab_hours": "-2"}, "That decision time is in the past"),
    ({"ab_hours": "0"}, "That decision time is in the past"),
    ({"variant-0-body": ""}, "An A/B test has 2 to 4 variants: write variant B below."),
    ({"variant-TOTAL_FORMS": "4", "variant-1-body": "C", "variant-2-body": "D", "variant-3-body": "E"},
     "An A/B test has 2 to 4 variants; this one has 5."),
    ({"variant-TOTAL_FORMS": "5", "variant-4-body": "F"}, "An A/B test has 2 to 4 variants; this one has 6."),
    ({"type": "10", "recipient": "380501234567"}, "An A/B test sends base broadcasts"),
    ({"when": "recurring", "repeat_time": "10:00"}, "An A/B test is sent now or at a date and time."),
])
def test_what_cannot_be_tested_is_a_field_error(admin_client, audience, change, error):
    page = errors_of(admin_client.post(reverse("campaigns:compose"), ab_data(audience, "B: 30% off", **change)))
    assert error in page


def test_a_variant_without_a_message_is_a_field_error(admin_client, audience):
    page = errors_of(admin_client.post(reverse("campaigns:compose"), ab_data(
        audience, "", **{"variant-0-senders": [audience["sender"].pk]})))
    assert "Write this variant&#x27;s message or choose a template." in page


def test_running_ab_tests_needs_its_permission(client, audience):
    user = User.objects.create_user("mara", password="x" * 16)
    client.force_login(user)
    page = errors_of(client.post(reverse("campaigns:compose"), ab_data(audience, "B: 30% off")))
    assert "Running A/B tests needs the “Can add A/B test” permission." in page
    user.user_permissions.add(Permission.objects.get(codename="add_abtest"))
    client.force_login(User.objects.get(pk=user.pk))
    assert client.post(reverse("campaigns:compose"), ab_data(audience, "B: 30% off")).status_code == 302


def test_the_z_test_matches_a_worked_example():
    # 200 of 1000 against 150 of 1000: pooled p = 0.175, SE = sqrt(0.175 * 0.825 * 0.002) = 0.016993,
    # z = 0.05 / 0.016993 = 2.942, two-sided p = 0.00326.
    z, p = two_proportion_z_test(200, 1000, 150, 1000)
    assert round(z, 3) == 2.942 and round(p, 5) == 0.00326
    assert two_proportion_z_test(0, 0, 5, 10) == (0.0, 1.0)
    close = decision_for("ctr", [{"label": "A", "successes": 11, "trials": 100},
                                 {"label": "B", "successes": 12, "trials": 100}])
    assert close["winner"] == "B" and not close["significant"]
    assert "not significant at 95%; the difference may be chance" in close["confidence"]
    assert math.isclose(close["p_value"], 0.8246, abs_tol=1e-4)


def sent_broadcasts(sandbox) -> list[dict]:
    """The broadcasts Textcast posted, as MessageWhiz received them (ids as one comma-separated string)."""
    bodies = [entry["json"] for entry in sandbox.requests(path="/api/3/Broadcast$", method="POST")]
    return [{**body, "recipient_list_ids": ",".join(str(i) for i in str(body["recipient_list_ids"]).strip("[]")
                                                    .replace(" ", "").split(","))} for body in bodies]


@pytest.mark.django_db(transaction=True)
def test_through_messagewhiz_each_part_is_a_list_of_its_own_and_the_winner_goes_once(admin_client, mw_account, mw,
                                                                                  sandbox, audience):
    phones = [f"38067{i:07d}" for i in range(60)]
    remote = mw.recipient_list_create(name="Everyone", numbers=phones)
    everyone = synced(RecipientList, mw_account, {"id": remote["recipient_list_id"]}, name="Everyone",
                      recipient_count=60)
    Recipient.objects.bulk_create(Recipient(recipient_list=everyone, phone=p) for p in phones)
    admin_client.post(reverse("campaigns:compose"), ab_data(audience, "B: 30% off", recipient_lists=[everyone.pk],
                                                            ab_metric="delivery"))
    broadcast = Broadcast.objects.get()
    Broadcast.objects.filter(pk=broadcast.pk).update(state=Broadcast.State.SCHEDULED)

    submit_broadcast(broadcast.pk)  # lists uploaded on commit, then each variant submitted

    test = AbTest.objects.get(broadcast=broadcast)
    samples = {v.label: v.sample_list for v in test.variants.select_related("sample_list")}
    assert all(s.remote_id and s.recipient_count == 6 for s in samples.values())  # 20% of 60 over 2
    remote_lists = {item["id"]: item for item in sandbox.state("recipient_lists")}
    members = {label: set(Recipient.objects.filter(recipient_list=s).values_list("phone", flat=True))
               for label, s in samples.items()}
    assert not members["A"] & members["B"]
    sent = sent_broadcasts(sandbox)
    assert sorted(b["recipient_list_ids"] for b in sent) == sorted(str(s.remote_id) for s in samples.values())
    assert not any(b.get("unsubscriber_list_ids") for b in sent)  # samples by their own lists, not by exclusion
    assert test.rest_list.recipient_count == 48 and test.rest_list.remote_id in remote_lists

    AbTest.objects.filter(pk=test.pk).update(decide_at=timezone.now())
    abtest_sweep()
    abtest_sweep()
    sent = sent_broadcasts(sandbox)
    assert len(sent) == 3 and sent[-1]["recipient_list_ids"] == str(test.rest_list.remote_id)
    rest = set(Recipient.objects.filter(recipient_list=test.rest_list).values_list("phone", flat=True))
    assert rest == set(phones) - members["A"] - members["B"]
    test.refresh_from_db()
    page = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert f"Winner: variant {test.winner.label}." in page
