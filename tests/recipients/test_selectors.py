"""Who a send reaches: recipients of lists X minus numbers on unsubscribe lists Y."""

from recipients.selectors import recipients_for_send, recipients_for_send_count, unsubscribe_list_members


def test_unsubscribed_numbers_are_left_out_at_send_time(make_list, make_unsubscribe_list):
    customers = make_list(name="Customers", phones=["380501111111", "380502222222", "380503333333"])
    opted_out = make_unsubscribe_list(name="Opted out", phones=["380502222222"])
    make_unsubscribe_list(name="Other", phones=["380503333333"])

    phones = recipients_for_send(recipient_list_ids=[customers.pk], unsubscribe_list_ids=[opted_out.pk])
    assert sorted(phones.values_list("phone", flat=True)) == ["380501111111", "380503333333"]
    assert recipients_for_send_count(recipient_list_ids=[customers.pk]) == 3


def test_a_phone_in_several_lists_is_sent_to_once_with_its_first_row(make_list):
    first = make_list(name="First", phones=["380501111111", "380502222222"], first_name="First")
    second = make_list(name="Second", phones=["380502222222", "380503333333"], first_name="Second")
    recipients = recipients_for_send(recipient_list_ids=[first.pk, second.pk], unsubscribe_list_ids=[])
    assert [(r.phone, r.first_name) for r in recipients] == [
        ("380501111111", "First"), ("380502222222", "First"), ("380503333333", "Second"),
    ]


def test_unsubscribe_members(make_unsubscribe_list):
    unsubscribe_list = make_unsubscribe_list(phones=["380643333322", "380502327265"])
    assert list(unsubscribe_list_members(unsubscribe_list=unsubscribe_list)) == ["380643333322", "380502327265"]
