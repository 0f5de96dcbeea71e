"""Every endpoint of the reference, called through the client against the strict sandbox: the
request must be accepted (2xx) and match its golden file exactly (see conftest.py).

A case is `lambda c, w, fresh: ...`: `c` the client, `w` the world's ids, `fresh()` forgets the
requests made so far (for cases that first need an object of their own, such as a broadcast).
"""

import inspect

import pytest

from messaging.messagewhiz.client import MessageWhizClient

from .conftest import CSV, END, LINKS_CSV, SEND, START, check_golden, wire_request


def _smart(c, w):
    return c.broadcast_smart_manual_send(
        name="manual", campaign_id=w["campaign"], sender_ids=[w["sender"]], recipient_list_ids=[w["recipient_list"]],
        message_body="man message", first_segment_size=1,
    )["broadcastID"]


def _otp(c, w, fresh):
    c.otp_send(campaign_id=w["campaign"], recipient="2605876689", sender_id=w["sender"],
               message_body="verification code: {{verification_code}}")
    fresh()
    return c.otp_verify(phone_number="2605876689", verification_code=2253)


def _segment(c, w, fresh):
    broadcast = _smart(c, w)
    fresh()
    return c.segment_create(broadcast_id=broadcast, segment_size=1, message_body="sample", sender_ids=[w["sender"]],
                            send_now=True, utc_offset=180)


def _delivery_report(c, w, fresh):
    broadcast = _smart(c, w)
    fresh()
    return c.delivery_report(broadcast)


CASES = {
    # campaigns
    "campaign_create": lambda c, w, f: c.campaign_create(name="Summer", start_date=START, end_date=END),
    "campaign_list": lambda c, w, f: c.campaign_list(start=0, limit=2, enabled=False, filter={"name": "CampaignName"}),
    "campaign_update": lambda c, w, f: c.campaign_update(w["campaign"], end_date=END),
    "campaign_patch": lambda c, w, f: c.campaign_patch(w["campaign"], enabled=True),
    "campaign_disable": lambda c, w, f: c.campaign_disable(w["campaign"]),
    # recipient lists
    "recipient_list_import_file": lambda c, w, f: c.recipient_list_import_file(
        name="FirstRecipientList", doc=CSV, filename="numbers.csv", mapping=["phone_number", "first_name"],
        truncate=True),
    "recipient_list_create": lambda c, w, f: c.recipient_list_create(name="Manual", numbers=["380503327227"]),
    "recipient_list_preview": lambda c, w, f: c.recipient_list_preview(doc=CSV, filename="numbers.csv"),
    "recipient_list_list": lambda c, w, f: c.recipient_list_list(filter={"name": "ManuallyAddedList"}),
    "recipient_list_recipients": lambda c, w, f: c.recipient_list_recipients(w["recipient_list"]),
    "recipient_list_numbers": lambda c, w, f: c.recipient_list_numbers(w["recipient_list"]),
    "recipient_list_download": lambda c, w, f: c.recipient_list_download(w["recipient_list"]),
    "recipient_list_replace_file": lambda c, w, f: c.recipient_list_replace_file(
        w["recipient_list"], doc=CSV, filename="RecipientList.csv", mapping=["phone_number", "first_name"],
        name="NewList"),
    "recipient_list_add_numbers": lambda c, w, f: c.recipient_list_add_numbers(
        w["recipient_list"], numbers=["380503322227"], name="Mw-manual"),
    "recipient_list_patch": lambda c, w, f: c.recipient_list_patch(w["recipient_list"], name="EditingList"),
    "recipient_list_disable": lambda c, w, f: c.recipient_list_disable(w["recipient_list"]),
    # senders
    "sender_create": lambda c, w, f: c.sender_create(name="Shop"),
    "sender_list": lambda c, w, f: c.sender_list(start=0, limit=10),
    "sender_update": lambda c, w, f: c.sender_update(w["sender2"], name="TestSender", enabled=False),
    "sender_patch": lambda c, w, f: c.sender_patch(w["sender2"], enabled=False),
    "sender_disable": lambda c, w, f: c.sender_disable(w["sender2"]),
    # sender lists
    "sender_list_create": lambda c, w, f: c.sender_list_create(name="Both", sender_ids=[w["sender"], w["sender2"]]),
    "sender_list_add_senders": lambda c, w, f: c.sender_list_add_senders(w["sender_list"], sender_ids=[w["sender2"]]),
    "sender_list_list": lambda c, w, f: c.sender_list_list(),
    "sender_list_senders": lambda c, w, f: c.sender_list_senders(w["sender_list"]),
    "sender_list_update": lambda c, w, f: c.sender_list_update(w["sender_list"], name="New", sender_ids=[w["sender2"]],
                                                               enabled=True),
    "sender_list_patch": lambda c, w, f: c.sender_list_patch(w["sender_list"], enabled=True),
    "sender_list_disable": lambda c, w, f: c.sender_list_disable(w["sender_list"]),
    "sender_list_remove_sender": lambda c, w, f: c.sender_list_remove_sender(w["sender_list"], w["sender"]),
    # broadcasts
    "broadcast_estimate": lambda c, w, f: c.broadcast_estimate(
        broadcast_type=11, recipient_list_ids=[w["recipient_list"]], message_body="sample"),
    "fast_single_send": lambda c, w, f: c.fast_single_send(to="2605876689", sender="sender", text="sample message",
                                                           client_ref="order-42"),
    "tiny_single_send": lambda c, w, f: c.tiny_single_send(recipient="2605876689", sender="sender",
                                                           message_body="sample message"),
    "broadcast_single_send": lambda c, w, f: c.broadcast_single_send(
        name="Single SMS to 380681337228", campaign_id=w["campaign"], sender_id=w["sender"],
        recipient="380681337228", message_body="message body", custom_parameter="1234abcd5678efgh"),
    "broadcast_base_send": lambda c, w, f: c.broadcast_base_send(
        name="broadcast", campaign_id=w["campaign"], sender_ids=[w["sender"]], sender_list_ids=[w["sender_list"]],
        recipient_list_ids=[w["recipient_list"]], unsubscriber_list_ids=[w["unsubscribe_list"]],
        message_body="HI!", template_id=w["template"], send_date=SEND, utc_offset=0),
    "broadcast_smart_manual_send": lambda c, w, f: c.broadcast_smart_manual_send(
        name="manual", campaign_id=w["campaign"], sender_ids=[w["sender"]], recipient_list_ids=[w["recipient_list"]],
        message_body="man message", template_ids=[w["template"]], first_segment_size=3, trigger_id=w["trigger"],
        delay=5),
    "broadcast_smart_ctr_send": lambda c, w, f: c.broadcast_smart_ctr_send(
        name="ctr", campaign_id=w["campaign"], sender_ids=[w["sender"]], recipient_list_ids=[w["recipient_list"]],
        message_body=f"Go {{{{link:{w['link']}}}}}", exp_date=SEND, conversion_threshold=50, first_segment_size=1,
        next_segment_size=1, recipient_cap=3),
    "segment_create": _segment,
    "otp_send": lambda c, w, f: c.otp_send(campaign_id=w["campaign"], recipient="2605876689", sender_id=w["sender"],
                                           message_body="verification code: {{verification_code}}", utc_offset=0,
                                           is_now=True),
    "otp_verify": _otp,
    "broadcast_list": lambda c, w, f: c.broadcast_list(start=0, limit=100, filter={"name": "sample", "type": [2, 12]},
                                                       orderby="create_date DESC"),
    "broadcast_combined_submit": lambda c, w, f: c.broadcast_combined_submit(
        message_body="hello {{first_name}}", sender="My sender",
        recipients=[{"phone_number": "380100001010", "first_name": "John"}, {"phone_number": "380100001011"}]),
    "delivery_report": _delivery_report,
    # unsubscribe lists
    "unsubscribe_list_import_file": lambda c, w, f: c.unsubscribe_list_import_file(
        name="Imported", doc=CSV, filename="numbers.csv", mapping=["phone_number", "first_name"], truncate=True),
    "unsubscribe_list_create": lambda c, w, f: c.unsubscribe_list_create(name="Out", numbers=["380502222234"]),
    "unsubscribe_list_preview": lambda c, w, f: c.unsubscribe_list_preview(doc=CSV, filename="numbers.csv"),
    "unsubscribe_list_add_numbers": lambda c, w, f: c.unsubscribe_list_add_numbers(
        w["unsubscribe_list"], numbers=["380502222233", "380643333322"]),
    "unsubscribe_list_list": lambda c, w, f: c.unsubscribe_list_list(filter={"name": "FirstUnsubscribeList"}),
    "unsubscribe_list_members": lambda c, w, f: c.unsubscribe_list_members(w["unsubscribe_list"]),
    "unsubscribe_list_download": lambda c, w, f: c.unsubscribe_list_download(w["unsubscribe_list"]),
    "unsubscribe_list_replace_file": lambda c, w, f: c.unsubscribe_list_replace_file(
        w["unsubscribe_list"], doc=CSV, filename="UnsubscribeList.csv", mapping=["phone_number"]),
    "unsubscribe_list_patch": lambda c, w, f: c.unsubscribe_list_patch(w["unsubscribe_list"], enabled=False),
    "unsubscribe_list_disable": lambda c, w, f: c.unsubscribe_list_disable(w["unsubscribe_list"]),
    # links
    "link_create": lambda c, w, f: c.link_create(name="Link2", url="https://foot2.com",
                                                 bot_redirect="https://foot32.com/desktop",
                                                 preview_url="https://foot12.com"),
    "link_list": lambda c, w, f: c.link_list(filter={"url": "https://foot1.com"}),
    "link_update": lambda c, w, f: c.link_update(w["link"], name="FirstLink", url="https://foot1.com"),
    "link_disable": lambda c, w, f: c.link_disable(w["link"]),
    "link_conversion": lambda c, w, f: c.link_conversion(url="mmdsmart.com"),
    # link lists
    "link_list_create": lambda c, w, f: c.link_list_create(name="Second", link_ids=[w["link2"]]),
    "link_list_import_file": lambda c, w, f: c.link_list_import_file(name="Imported", doc=LINKS_CSV,
                                                                     filename="linkList.csv", mapping=["name", "url"]),
    "link_list_add_links": lambda c, w, f: c.link_list_add_links(w["link_list"], link_ids=[w["link2"]]),
    "link_list_add_links_bulk": lambda c, w, f: c.link_list_add_links_bulk(
        w["link_list"], links=[{"name": "some3 name", "url": "https://43.url.com"}]),
    "link_list_list": lambda c, w, f: c.link_list_list(),
    "link_list_links": lambda c, w, f: c.link_list_links(w["link_list"]),
    "link_list_replace_file": lambda c, w, f: c.link_list_replace_file(
        w["link_list"], doc=LINKS_CSV, filename="SecondLinkList.csv", mapping=["name", "url"], name="NewList"),
    "link_list_patch": lambda c, w, f: c.link_list_patch(w["link_list"], enabled=True),
    "link_list_disable": lambda c, w, f: c.link_list_disable(w["link_list"]),
    "link_list_remove_link": lambda c, w, f: c.link_list_remove_link(w["link_list"], w["link"]),
    # word spinners
    "spinner_create": lambda c, w, f: c.spinner_create(name="Greeting", words=["Hi", "Hello"]),
    "spinner_list": lambda c, w, f: c.spinner_list(enabled=True),
    "spinner_update": lambda c, w, f: c.spinner_update(w["spinner"], name="FirstSpinner", words=["one", "five"]),
    "spinner_patch": lambda c, w, f: c.spinner_patch(w["spinner"], enabled=False),
    "spinner_disable": lambda c, w, f: c.spinner_disable(w["spinner"]),
    # templates
    "template_create": lambda c, w, f: c.template_create(name="Second", body="Hello {{first_name}}"),
    "template_list": lambda c, w, f: c.template_list(),
    "template_update": lambda c, w, f: c.template_update(w["template"], name="AnotherTemplateName"),
    "template_disable": lambda c, w, f: c.template_disable(w["template"]),
    # triggers
    "trigger_create": lambda c, w, f: c.trigger_create(name="Opened"),
    "trigger_list": lambda c, w, f: c.trigger_list(),
    "trigger_update": lambda c, w, f: c.trigger_update(w["trigger"], name="#"),
    "trigger_disable": lambda c, w, f: c.trigger_disable(w["trigger"]),
}


def endpoint_methods() -> set[str]:
    """The client's endpoint methods: every public method but the pagination helpers."""
    return {
        name for name, _ in inspect.getmembers(MessageWhizClient, inspect.isfunction)
        if not name.startswith("_") and not name.endswith("_iter") and name not in ("iter_pages", "close")
    }


def test_every_endpoint_has_a_contract_case():
    assert set(CASES) == endpoint_methods()


@pytest.mark.parametrize("name", sorted(CASES))
def test_request_matches_its_golden(name, client, sandbox, world):
    CASES[name](client, world, lambda: sandbox.control("DELETE", "requests"))
    [entry] = sandbox.requests()
    request = wire_request(entry)
    assert 200 <= request["status"] < 300, entry
    check_golden(name, request)
