"""Presets that fill the generic provider form as the providers' CleverTap pages describe them.

Values in <angle brackets> are the user's own (keys, sender ids, numbers) and must be replaced;
the form refuses to save any field that still holds one (`placeholders_in`).
"""

import json
import re

from django.conf import settings

MESSAGEWHIZ_DLR_STATUSES = {
    # CleverTap's words for MessageWhiz DLRs, and MessageWhiz's own status words.
    "DELIVERED": "delivered", "DELIVRD": "delivered", "FAILED": "failed", "QUEUED": "submitted",
    "ENROUTE": "enroute", "ACCEPTD": "accepted", "UNDELIV": "undelivered", "EXPIRED": "expired",
    "REJECTD": "rejected", "DELETED": "deleted", "UNKNOWN": "unknown",
}

PRESETS = {
    # specs/000: MessageWhiz's /sms endpoint as a CleverTap generic provider.
    "messagewhiz_sms": {
        "label": "MessageWhiz /sms",
        "name": "MessageWhiz_SMS",
        "channel": "sms",
        "method": "POST",
        "endpoint": "https://sms.messagewhiz.com/sms",  # under MESSAGEWHIZ_BASE_URL in preset_values
        "auth": "none",
        "headers": [["apikey", "<YOUR_MESSAGEWHIZ_API_KEY>"], ["Content-Type", "application/json"]],
        "body_format": "json",
        "body_template": json.dumps({"from": "<Your Sender ID>", "to": "$$To", "text": "$$Body",
                                     "client_ref": "$$MessageID", "callback": "$$CallbackURL"}, indent=2),
        "response_id_field": "message_id",
        "dlr_enabled": True,
        "dlr_ref_field": "client_ref",
        "dlr_id_field": "message_id",
        "dlr_status_field": "status",
        "dlr_error_field": "error",
        "dlr_status_map": MESSAGEWHIZ_DLR_STATUSES,
    },
    # specs/001: Message Central. Credentials travel as headers; no delivery reports.
    "message_central": {
        "label": "Message Central",
        "name": "MessageCentral",
        "channel": "sms",
        "method": "POST",
        "endpoint": "<Auth URL from your Message Central account>",
        "auth": "none",
        "headers": [["customerId", "<Customer ID>"], ["email", "<Email>"], ["password", "<Password>"],
                    ["Content-Type", "application/json"], ["account", "<Account ID>"]],
        "body_format": "json",
        "body_template": json.dumps({"to": "$$To", "text": "$$Body"}, indent=2),
        "batch_record_template": json.dumps({"to": "$$To", "text": "$$Body"}),
        "batch_envelope": json.dumps({"messages": "$$Records"}),
        "dlr_enabled": False,
    },
    # specs/002: MSG91 WhatsApp, basic authentication with the MSG91 username.
    "msg91_whatsapp": {
        "label": "MSG91 WhatsApp",
        "name": "MSG91",
        "channel": "whatsapp",
        "method": "POST",
        "endpoint": "https://api.msg91.com/api/v5/whatsapp//outbound/clevertap/",
        "auth": "basic",
        "headers": [["Authkey", "<MSG91 Authkey>"], ["Content-Type", "application/json"],
                    ["Accept", "application/json"]],
        "body_format": "json",
        # The account's "WhatsApp number" field fills $$WhatsAppNumber (CleverTap's "Mobile Number").
        "body_template": json.dumps({"integrated_number": "$$WhatsAppNumber", "to": "$$To",
                                     "message_id": "$$MessageID", "type": "template", "template": "$$Template"},
                                    indent=2),
        "max_concurrency": 30,
        "dlr_enabled": True,
        "dlr_ref_field": "message_id",
        "dlr_id_field": "uuid",
        "dlr_status_field": "status",
        "dlr_error_field": "reason",
        "dlr_status_map": {"sent": "enroute", "delivered": "delivered", "read": "delivered", "failed": "failed",
                           "rejected": "rejected"},
    },
}


def preset_values(key: str) -> dict | None:
    """What the preset fills in. MessageWhiz's /sms is the one under MESSAGEWHIZ_BASE_URL, as for
    MessageWhiz accounts: the sandbox in development, the real service in production."""
    preset = PRESETS.get(key)
    if key == "messagewhiz_sms":
        preset = {**preset, "endpoint": f"{settings.MESSAGEWHIZ_BASE_URL}/sms"}
    return preset


def preset_choices() -> list[tuple[str, str]]:
    return [(key, preset["label"]) for key, preset in PRESETS.items()]


_ANGLED = re.compile(r"<[^<>\n]{1,80}>")
PRESET_PLACEHOLDERS = frozenset(_ANGLED.findall(json.dumps(PRESETS, ensure_ascii=False)))


def placeholders_in(text: str, *, whole_value: bool = False) -> list[str]:
    """The preset placeholders still in `text` (and with `whole_value`, a value that is nothing but
    one, such as "<API key>": no header, parameter or JSON value is really written that way)."""
    found = [p for p in _ANGLED.findall(text or "") if p in PRESET_PLACEHOLDERS]
    if whole_value and not found and _ANGLED.fullmatch((text or "").strip()):
        found = [text.strip()]
    return found
