"""MessageWhiz API v3 client: one method per endpoint of the reference (/work/shared/specs/003_*).

Conventions
* Methods are named `<resource>_<action>` (`campaign_create`, `recipient_list_import_file`) and
  take keyword arguments named after the API's fields. A `None` argument is left out of the request.
  Where a resource's own name ends in `_list`, listing it reads `<resource>_list` (`sender_list()`
  lists senders, `sender_list_list()` lists sender lists).
* Every call returns the envelope's `result` (or the bare body of the NestJS endpoints `/sms` and
  `/api/...`) as plain dicts and lists passed through `parsing.normalise`: ids and counts are ints,
  phone numbers digit strings, `enabled` a bool, dates aware datetimes. `*_disable` returns a bool,
  `*_download` the file's text.
* Failures raise the typed errors of `errors.py`; a 200 carrying `errorCode != 0` is a `ResultError`.
* HTTP policy (timeouts, retries, pooling, no redirects) is `messaging.http.HttpClient`'s. Calls
  that create or send are POSTs and never retried once sent: on a lost answer, or a 5xx other than
  503, they raise `AmbiguousRequestError` (`AmbiguousServerError` for the 5xx).
  POSTs that only read (estimate, previews, link conversion, delivery report) are marked safe.
* Lists of ids go out comma-separated (`"12,13"`) where the reference asks for strings, and
  `filter` accepts a dict: `{"name": "x", "type": [2, 12]}` -> `name=x,type=2,type=12`.
* Uploads (`doc`) take bytes, a binary file object or a `pathlib.Path`; `mapping` a dict
  (`{0: "phone_number"}`) or a list of column markers (`["phone_number", "first_name"]`).
* Path casing varies in the reference, even between endpoints of one resource; each endpoint uses
  the spelling of its own request example (`POST RecipientList`, `POST recipientList/numbers`), the
  one spelling certain to be documented for it (ASSUMPTIONS.md).
"""

import json as jsonlib
import mimetypes
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from messaging import http, safejson
from messaging.messagewhiz.errors import (
    AmbiguousRequestError,
    MessageWhizError,
    TransportError,
    error_from_response,
)
from messaging.messagewhiz.parsing import (
    api_datetime,
    api_plain_datetime,
    id_string,
    normalise,
    phone_strings,
    to_bool,
    to_int,
    to_phone,
)

CAMPAIGN = "/api/3/campaign"
RECIPIENT_LIST = "/api/3/recipientList"
RECIPIENT_LIST_UPPER = "/api/3/RecipientList"  # import, list, PATCH and DELETE are shown this way
SENDER = "/api/3/sender"
SENDER_LIST = "/api/3/senderList"
BROADCAST = "/api/3/Broadcast"
SEGMENTS = "/api/3/Segments"
UNSUBSCRIBE_LIST = "/api/3/unsubscribeList"
UNSUBSCRIBE_LIST_UPPER = "/api/3/UnsubscribeList"  # import, add members, PUT, PATCH and DELETE
LINK = "/api/3/link"
LINK_LIST = "/api/3/LinkList"
SPINNER = "/api/3/spinner"
TEMPLATE = "/api/3/template"
TRIGGER = "/api/3/trigger"

SINGLE, BASE, SMART = 10, 11, 12  # broadcast_type


class MessageWhizClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        pool_size: int = 10,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._api_key = api_key
        self.http = http.HttpClient(
            base_url,
            headers={"apikey": api_key, "Accept": "application/json", "User-Agent": "Textcast"},
            timeout=timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_retry_after=max_retry_after,
            pool_size=pool_size,
            sleep=sleep,
        )

    @classmethod
    def from_account(cls, account, **options) -> "MessageWhizClient":
        """A client for a ProviderAccount (anything with `base_url` and `api_key`), tuned by settings.

        Timeouts and retries come from MESSAGEWHIZ_* settings when Django is configured; `options`
        override them.
        """
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        try:
            defaults = {
                "timeout": (settings.MESSAGEWHIZ_CONNECT_TIMEOUT, settings.MESSAGEWHIZ_READ_TIMEOUT),
                "max_retries": settings.MESSAGEWHIZ_MAX_RETRIES,
            }
        except ImproperlyConfigured:  # used outside Django (a script, the sandbox's own tools)
            defaults = {}
        return cls(account.base_url, account.api_key, **{**defaults, **options})

    def __repr__(self):
        return f"<MessageWhizClient {self.http.base_url}>"  # never the key

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # --- Plumbing -------------------------------------------------------------------------------

    def _call(self, method, path, *, json=None, params=None, files=None, data=None, idempotent=None,
              headers=None, text=False):
        """Send one request and return its normalised result, or raise the matching MessageWhizError."""
        idempotent = http.is_idempotent(method, idempotent)
        try:
            response = self.http.request(
                method, path, json=json, params=_clean(params), files=files, data=data,
                headers=headers, idempotent=idempotent,
            )
        except http.AmbiguousRequestError as exc:
            raise AmbiguousRequestError(str(exc)) from exc
        except http.TransportError as exc:
            raise TransportError(str(exc), permanent=exc.permanent) from exc
        if not 200 <= response.status_code < 300:  # a 3xx too: redirects are not followed
            raise error_from_response(response, method=method, path=path, idempotent=idempotent)
        if text:
            return response.text
        try:
            body = safejson.loads(response.content)
        except safejson.JSONError:
            raise MessageWhizError(
                f"{method} {path}: HTTP {response.status_code} is not JSON "
                f"({response.headers.get('Content-Type', 'no content type')})",
                status=response.status_code,
            ) from None
        if isinstance(body, dict) and "errorCode" in body:
            if to_int(body["errorCode"]) not in (0, None):
                raise error_from_response(response, method=method, path=path, idempotent=idempotent)
            return normalise(body.get("result"))
        return normalise(body)

    def _json(self, method, path, /, **fields):
        """A call whose JSON body is `fields`, minus those left as None."""
        return self._call(method, path, json=_clean(fields))

    def _upload(self, method, path, *, doc, filename=None, fields=None, params=None, idempotent=None):
        with _document(doc, filename) as part:
            return self._call(method, path, files={"doc": part}, data=_clean(fields), params=params,
                              idempotent=idempotent)

    def _list(self, path, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._call("GET", path, params={
            "start": start, "limit": limit, "enabled": _query_bool(enabled), "filter": _filter(filter),
        })

    def _disable(self, path) -> bool:
        return to_bool(self._call("DELETE", path))

    def iter_pages(self, list_method: Callable[..., list], *, page_size=100, **params) -> Iterator[dict]:
        """Yield every item of a `*_list` method, page by page, until an empty page.

        `client.iter_pages(client.campaign_list, enabled=False)`; each resource also has `*_iter`.
        The reference's list answers are bare arrays with no total count, and a server may cap a
        page below `limit` without saying so: a short page is no end marker, only an empty one is.
        """
        start, previous = 0, None
        while True:
            page = list_method(start=start, limit=page_size, **params)
            if not page:
                return
            # A server that ignores `start` would hand back the same page forever.
            if page == previous:
                raise MessageWhizError(f"pagination is not advancing at start={start}")
            yield from page
            start, previous = start + len(page), page

    # --- Campaigns ------------------------------------------------------------------------------

    def campaign_create(self, *, name, start_date=None, end_date=None) -> dict:
        return self._call("POST", CAMPAIGN, json=_clean({
            "name": name, "start_date": api_datetime(start_date), "end_date": api_datetime(end_date),
        }))

    def campaign_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(CAMPAIGN, start=start, limit=limit, enabled=enabled, filter=filter)

    def campaign_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.campaign_list, **params)

    def campaign_update(self, campaign_id, *, name=None, start_date=None, end_date=None) -> dict:
        """A date given as "" is cleared (sent as null); None leaves it as it is."""
        return self._call("PUT", f"{CAMPAIGN}/{int(campaign_id)}", json={**_clean({
            "name": name, "start_date": api_datetime(start_date), "end_date": api_datetime(end_date),
        }), **{key: None for key, value in (("start_date", start_date), ("end_date", end_date)) if value == ""}})

    def campaign_patch(self, campaign_id, *, enabled=None, name=None, start_date=None, end_date=None) -> dict:
        # The example sends "enabled": "1"; other resources' examples send true/1/0. We always send a
        # JSON boolean, the type the Sender List prose documents for the same flag.
        return self._call("PATCH", f"{CAMPAIGN}/{int(campaign_id)}", json=_clean({
            "enabled": enabled, "name": name,
            "start_date": api_datetime(start_date), "end_date": api_datetime(end_date),
        }))

    def campaign_disable(self, campaign_id) -> bool:
        return self._disable(f"{CAMPAIGN}/{int(campaign_id)}")

    # --- Recipient lists ------------------------------------------------------------------------

    def recipient_list_import_file(self, *, name, doc, mapping, truncate=False, filename=None) -> dict:
        return self._upload("POST", RECIPIENT_LIST_UPPER, doc=doc, filename=filename,
                            fields={"name": name, "mapping": _mapping(mapping)},
                            params={"truncate": _query_bool(truncate)})

    def recipient_list_create(self, *, name, numbers) -> dict:
        return self._json("POST", f"{RECIPIENT_LIST}/numbers", name=name, numbers=phone_strings(numbers))

    def recipient_list_preview(self, *, doc, list_id=0, filename=None) -> dict:
        # The prose and examples put a list id in the path (.../recipientList/6/preview) although a
        # preview comes before any list exists; we pass the target list's id, or 0 for a new list.
        return self._upload("POST", f"{RECIPIENT_LIST}/{int(list_id)}/preview", doc=doc, filename=filename,
                            idempotent=True)

    def recipient_list_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(RECIPIENT_LIST_UPPER, start=start, limit=limit, enabled=enabled, filter=filter)

    def recipient_list_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.recipient_list_list, **params)

    def recipient_list_recipients(self, list_id) -> list[dict]:
        return self._call("GET", f"{RECIPIENT_LIST}/{int(list_id)}/recipients")

    def recipient_list_numbers(self, list_id) -> list[str]:
        return [to_phone(n) for n in self._call("GET", f"{RECIPIENT_LIST}/{int(list_id)}/listNumbers")]

    def recipient_list_download(self, list_id) -> str:
        return self._call("GET", f"{RECIPIENT_LIST}/{int(list_id)}/download", text=True)

    def recipient_list_replace_file(self, list_id, *, doc, mapping, name=None, filename=None) -> dict:
        return self._upload("PUT", f"{RECIPIENT_LIST}/{int(list_id)}", doc=doc, filename=filename,
                            fields={"name": name, "mapping": _mapping(mapping)})

    def recipient_list_add_numbers(self, list_id, *, numbers, name=None) -> dict:
        return self._call("PUT", f"{RECIPIENT_LIST}/{int(list_id)}/numbers",
                          json=_clean({"name": name, "numbers": phone_strings(numbers)}))

    def recipient_list_patch(self, list_id, *, name=None, enabled=None) -> dict:
        return self._call("PATCH", f"{RECIPIENT_LIST_UPPER}/{int(list_id)}",
                          json=_clean({"name": name, "enabled": enabled}))

    def recipient_list_disable(self, list_id) -> bool:
        return self._disable(f"{RECIPIENT_LIST_UPPER}/{int(list_id)}")

    # --- Senders --------------------------------------------------------------------------------

    def sender_create(self, *, name) -> dict:
        return self._call("POST", SENDER, json={"name": name})

    def sender_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(SENDER, start=start, limit=limit, enabled=enabled, filter=filter)

    def sender_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.sender_list, **params)

    def sender_update(self, sender_id, *, name=None, enabled=None) -> dict:
        return self._json("PUT", f"{SENDER}/{int(sender_id)}", name=name, enabled=enabled)

    def sender_patch(self, sender_id, *, enabled=None, name=None) -> dict:
        return self._json("PATCH", f"{SENDER}/{int(sender_id)}", enabled=enabled, name=name)

    def sender_disable(self, sender_id) -> bool:
        return self._disable(f"{SENDER}/{int(sender_id)}")

    # --- Sender lists ---------------------------------------------------------------------------

    def sender_list_create(self, *, name, sender_ids) -> dict:
        return self._call("POST", SENDER_LIST, json={"name": name, "senderIds": _int_list(sender_ids)})

    def sender_list_add_senders(self, list_id, *, sender_ids) -> list[int]:
        result = self._json("POST", f"{SENDER_LIST}/{int(list_id)}/senders", ids=_int_list(sender_ids))
        return [to_int(i) for i in result]

    def sender_list_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(SENDER_LIST, start=start, limit=limit, enabled=enabled, filter=filter)

    def sender_list_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.sender_list_list, **params)

    def sender_list_senders(self, list_id) -> dict:
        return self._call("GET", f"{SENDER_LIST}/{int(list_id)}/senders")

    def sender_list_update(self, list_id, *, name=None, sender_ids=None, enabled=None) -> dict:
        # Example says GET with a body, prose says PUT .../sendertList/{id}: it is PUT /api/3/senderList/{id}.
        return self._call("PUT", f"{SENDER_LIST}/{int(list_id)}", json=_clean({
            "name": name, "senderIds": _int_list(sender_ids), "enabled": enabled,
        }))

    def sender_list_patch(self, list_id, *, enabled=None, name=None) -> dict:
        # Prose points at RecipientList/{id}; the example and REST pattern say PATCH /api/3/senderList/{id}.
        return self._json("PATCH", f"{SENDER_LIST}/{int(list_id)}", enabled=enabled, name=name)

    def sender_list_disable(self, list_id) -> bool:
        return self._disable(f"{SENDER_LIST}/{int(list_id)}")

    def sender_list_remove_sender(self, list_id, sender_id) -> bool:
        return to_bool(self._call("DELETE", f"{SENDER_LIST}/{int(list_id)}/senders",
                                  params={"id": int(sender_id)}))

    # --- Broadcasts -----------------------------------------------------------------------------

    def broadcast_estimate(self, *, recipient_list_ids=None, message_body=None, broadcast_type=None,
                           recipient=None, template_id=None, unsubscriber_list_ids=None, eb_type=None,
                           first_segment_size=None, next_segment_size=None, template_ids=None,
                           recipient_cap=None) -> dict:
        # broadcast_type is not in the prose but is in the example; sent only when given.
        return self._call("POST", f"{BROADCAST}/estimate", idempotent=True, json=_clean({
            "broadcast_type": broadcast_type,
            "recipient_list_ids": id_string(recipient_list_ids),
            "unsubscriber_list_ids": id_string(unsubscriber_list_ids),
            "message_body": message_body,
            "template_id": template_id,
            # Documented as a number (the one exception to phone numbers as strings).
            "recipient": _phone_int(recipient),
            "eb_type": eb_type,
            "first_segment_size": first_segment_size,
            "next_segment_size": next_segment_size,
            "template_ids": id_string(template_ids),
            "recipient_cap": recipient_cap,
        }))

    def fast_single_send(self, *, to, sender, text, client_ref=None, callback=None) -> dict:
        """POST /sms: the fast single. Returns {"message_id": str}; DLRs go to `callback`."""
        # This endpoint authenticates with api_key in the body and documents no header, so the
        # session's apikey header is removed (requests drops headers set to None).
        return self._call("POST", "/sms", headers={"apikey": None}, json=_clean({
            "api_key": self._api_key, "to": to_phone(to), "from": sender, "text": text,
            "client_ref": client_ref, "callback": callback,
        }))

    def tiny_single_send(self, *, recipient, sender, message_body) -> dict:
        # The trailing slash is in both the example and the prose.
        return self._call("POST", f"{BROADCAST}/tiny/", json={
            "recipient": to_phone(recipient), "sender": sender, "message_body": message_body,
        })

    def broadcast_single_send(self, *, campaign_id, sender_id, recipient, message_body=None, name=None,
                              template_id=None, unsubscriber_list_ids=None, send_date=None, utc_offset=None,
                              trigger_id=None, delay=None, custom_parameter=None) -> dict:
        # sender_id: the example sends "23", the prose says int; we follow the prose.
        return self._call("POST", BROADCAST, json=_clean({
            "name": name,
            "campaign_id": int(campaign_id),
            "broadcast_type": SINGLE,
            "sender_id": int(sender_id),
            "recipient": to_phone(recipient),
            "message_body": message_body,
            "template_id": template_id,
            "unsubscriber_list_ids": id_string(unsubscriber_list_ids),
            "send_date": api_datetime(send_date),
            "utc_offset": utc_offset,
            "trigger_id": trigger_id,
            "delay": delay,
            "custom_parameter": custom_parameter,
        }))

    def broadcast_base_send(self, *, name, campaign_id, sender_ids, recipient_list_ids, message_body=None,
                            sender_list_ids=None, template_id=None, unsubscriber_list_ids=None,
                            send_date=None, utc_offset=None, trigger_id=None, delay=None) -> dict:
        return self._call("POST", BROADCAST, json=_clean({
            "name": name,
            "campaign_id": int(campaign_id),
            "broadcast_type": BASE,
            **self._broadcast_targets(sender_ids, sender_list_ids, recipient_list_ids, unsubscriber_list_ids),
            "message_body": message_body,
            "template_id": template_id,
            "send_date": api_datetime(send_date),
            "utc_offset": utc_offset,
            "trigger_id": trigger_id,
            "delay": delay,
        }))

    def broadcast_smart_manual_send(self, *, name, campaign_id, sender_ids, recipient_list_ids,
                                    first_segment_size, message_body=None, template_id=None,
                                    template_ids=None, sender_list_ids=None, unsubscriber_list_ids=None,
                                    send_date=None, utc_offset=None, trigger_id=None, delay=None) -> dict:
        # first_segment_size: the example sends "3", the prose says int; we follow the prose.
        return self._call("POST", BROADCAST, json=_clean({
            "name": name,
            "campaign_id": int(campaign_id),
            "broadcast_type": SMART,
            "eb_type": "manual",
            **self._broadcast_targets(sender_ids, sender_list_ids, recipient_list_ids, unsubscriber_list_ids),
            "message_body": message_body,
            "template_id": template_id,
            "template_ids": id_string(template_ids),
            "first_segment_size": int(first_segment_size),
            "send_date": api_datetime(send_date),
            "utc_offset": utc_offset,
            "trigger_id": trigger_id,
            "delay": delay,
        }))

    def broadcast_smart_ctr_send(self, *, name, campaign_id, sender_ids, recipient_list_ids, exp_date,
                                 conversion_threshold, first_segment_size, next_segment_size,
                                 recipient_cap="no limit", message_body=None, template_id=None,
                                 sender_list_ids=None, unsubscriber_list_ids=None, send_date=None,
                                 utc_offset=None, trigger_id=None, delay=None) -> dict:
        """`recipient_cap` is a number (> 2) or the string "no limit"."""
        return self._call("POST", BROADCAST, json=_clean({
            "name": name,
            "campaign_id": int(campaign_id),
            "broadcast_type": SMART,
            "eb_type": "CTR",
            **self._broadcast_targets(sender_ids, sender_list_ids, recipient_list_ids, unsubscriber_list_ids),
            "message_body": message_body,
            "template_id": template_id,
            "exp_date": api_plain_datetime(exp_date),
            "conversion_threshold": int(conversion_threshold),
            "first_segment_size": int(first_segment_size),
            "next_segment_size": int(next_segment_size),
            # Spelled "recipeint_cap" once in the prose and "recipient_cap" everywhere else.
            "recipient_cap": recipient_cap,
            "send_date": api_datetime(send_date),
            "utc_offset": utc_offset,
            "trigger_id": trigger_id,
            "delay": delay,
        }))

    @staticmethod
    def _broadcast_targets(sender_ids, sender_list_ids, recipient_list_ids, unsubscriber_list_ids) -> dict:
        # sender_ids is required even when sender lists are given (ASSUMPTIONS.md): callers pass the
        # lists' senders too, so a broadcast never goes out with `"sender_ids": ""`.
        if not id_string(sender_ids):
            raise ValueError("sender_ids is required: give the senders (those of the sender lists too)")
        return {
            "sender_ids": id_string(sender_ids),
            "sender_list_ids": id_string(sender_list_ids),
            "recipient_list_ids": id_string(recipient_list_ids),
            "unsubscriber_list_ids": id_string(unsubscriber_list_ids),
        }

    def segment_create(self, *, broadcast_id, segment_size, message_body=None, template_ids=None,
                       sender_ids=None, sender_list_ids=None, send_now=None, trigger_id=None, send_date=None,
                       utc_offset=None, recipient_cap=None, first_segment_size=None,
                       next_segment_size=None) -> dict:
        """Continue a smart broadcast (POST /api/3/Segments) with its next segment."""
        return self._call("POST", SEGMENTS, json=_clean({
            "broadcast_id": int(broadcast_id),
            "message_body": message_body,
            "template_ids": id_string(template_ids),
            "segment_size": int(segment_size),
            "send_now": send_now,
            "sender_ids": id_string(sender_ids),
            "sender_list_ids": id_string(sender_list_ids),
            "trigger_id": trigger_id,
            "send_date": api_datetime(send_date),
            "utc_offset": utc_offset,
            "recipient_cap": recipient_cap,
            "first_segment_size": first_segment_size,
            "next_segment_size": next_segment_size,
        }))

    def otp_send(self, *, campaign_id, recipient, message_body=None, message_template_id=None, sender_id=None,
                 sender=None, unsubscriber_list_ids=None, utc_offset=None, is_now=None, send_date=None,
                 trigger_id=None) -> dict:
        """Send a one-time password; `message_body` must contain {{verification_code}}. Returns {"id"}."""
        # sender_id is a string on this endpoint (prose and example agree), unlike /api/3/Broadcast.
        return self._call("POST", "/api/broadcasts/single", params={"otp": "true"}, json=_clean({
            "campaign_id": int(campaign_id),
            "sender_id": None if sender_id is None else str(sender_id),
            "sender": sender,
            "message_body": message_body,
            "message_template_id": message_template_id,
            "recipient": to_phone(recipient),
            "unsubscriber_list_ids": id_string(unsubscriber_list_ids),
            "utc_offset": utc_offset,
            "is_now": is_now,
            "send_date": api_datetime(send_date),
            "trigger_id": trigger_id,
            "verification": True,
        }))

    def otp_verify(self, *, phone_number, verification_code) -> dict:
        """Returns {"valid": bool}. The code is sent as given: an int as in the example, or a string
        when it has leading zeros."""
        return self._call("POST", f"/api/recipients/{to_phone(phone_number)}/verification",
                          json={"verification_code": verification_code})

    def broadcast_list(self, *, start=None, limit=None, filter=None, orderby=None) -> list[dict]:
        """`limit` is 1-100; `orderby` like "create_date DESC"; see the module docstring for `filter`."""
        return self._call("GET", f"{BROADCAST}/List", params={
            "start": start, "limit": limit, "filter": _filter(filter), "orderby": orderby,
        })

    def broadcast_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.broadcast_list, **params)

    def broadcast_combined_submit(self, *, recipients, message_body, sender=None, sender_id=None, name=None,
                                  send_date=None) -> list[dict]:
        """Create a base broadcast and its recipient list in one request.

        `recipients` are dicts with `phone_number` and any of first_name, last_name, url, custom...
        """
        # phone_number goes out as a number, as in the example.
        recipients = [{**r, "phone_number": _phone_int(r["phone_number"])} for r in recipients]
        return self._call("POST", f"{BROADCAST}/combinedsubmit", json=_clean({
            "name": name,
            "message_body": message_body,
            "sender": sender,
            "sender_id": sender_id,
            "recipients": recipients,
            "send_date": api_datetime(send_date),
        }))

    def delivery_report(self, broadcast_id) -> list[dict]:
        """Per-status counts of a broadcast (one object per segment for V3 smart broadcasts)."""
        return self._call("POST", "/api/3/DeliveryReport", json={"bid": int(broadcast_id)}, idempotent=True)

    # --- Unsubscribe lists ----------------------------------------------------------------------

    def unsubscribe_list_import_file(self, *, name, doc, mapping, truncate=False, filename=None) -> dict:
        # POST /api/3/UnsubscribeList imports a file; the same path in lower camel case takes numbers.
        return self._upload("POST", UNSUBSCRIBE_LIST_UPPER, doc=doc, filename=filename,
                            fields={"name": name, "mapping": _mapping(mapping)},
                            params={"truncate": _query_bool(truncate)})

    def unsubscribe_list_create(self, *, name, numbers) -> dict:
        # numbers go out as numbers, as in the example ([380502222233]).
        return self._json("POST", UNSUBSCRIBE_LIST, name=name, numbers=[_phone_int(n) for n in numbers])

    def unsubscribe_list_preview(self, *, doc, filename=None) -> dict:
        # Example: .../unsubscribeList/preview/4; the prose has no id: POST /api/3/unsubscribeList/preview.
        return self._upload("POST", f"{UNSUBSCRIBE_LIST}/preview", doc=doc, filename=filename,
                            idempotent=True)

    def unsubscribe_list_add_numbers(self, list_id, *, numbers) -> dict:
        # The example spells it UnsubscribeList, the prose unsubscribeList: the example wins, as everywhere.
        # Safe to repeat: numbers already on the list come back as `alreadyExists`.
        return self._call("POST", f"{UNSUBSCRIBE_LIST_UPPER}/{int(list_id)}/members",
                          json={"numbers": phone_strings(numbers)}, idempotent=True)

    def unsubscribe_list_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(UNSUBSCRIBE_LIST, start=start, limit=limit, enabled=enabled, filter=filter)

    def unsubscribe_list_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.unsubscribe_list_list, **params)

    def unsubscribe_list_members(self, list_id) -> list[dict]:
        return self._call("GET", f"{UNSUBSCRIBE_LIST}/{int(list_id)}/members")

    def unsubscribe_list_download(self, list_id) -> str:
        return self._call("GET", f"{UNSUBSCRIBE_LIST}/{int(list_id)}/download", text=True)

    def unsubscribe_list_replace_file(self, list_id, *, doc, mapping, filename=None) -> dict:
        return self._upload("PUT", f"{UNSUBSCRIBE_LIST_UPPER}/{int(list_id)}", doc=doc, filename=filename,
                            fields={"mapping": _mapping(mapping)})

    def unsubscribe_list_patch(self, list_id, *, enabled=None, name=None) -> dict:
        return self._json("PATCH", f"{UNSUBSCRIBE_LIST_UPPER}/{int(list_id)}", enabled=enabled, name=name)

    def unsubscribe_list_disable(self, list_id) -> bool:
        # The example says UnsubscribeList/{id}, the prose unsubscribeList/{id}: the example.
        return self._disable(f"{UNSUBSCRIBE_LIST_UPPER}/{int(list_id)}")

    # --- Links ----------------------------------------------------------------------------------

    def link_create(self, *, name, url, bot_redirect=None, preview_url=None) -> dict:
        return self._call("POST", LINK, json=_clean({
            "name": name, "url": url, "platform_based_links": _platform_links(bot_redirect, preview_url),
        }))

    def link_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(LINK, start=start, limit=limit, enabled=enabled, filter=filter)

    def link_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.link_list, **params)

    def link_update(self, link_id, *, name=None, url=None, bot_redirect=None, preview_url=None) -> dict:
        """A platform link given as "" is cleared. The reference has no way to enable a link again."""
        return self._call("PUT", f"{LINK}/{int(link_id)}", json=_clean({
            "name": name, "url": url, "platform_based_links": _platform_links(bot_redirect, preview_url),
        }))

    def link_disable(self, link_id) -> bool:
        return self._disable(f"{LINK}/{int(link_id)}")

    def link_conversion(self, *, url) -> dict:
        # The example spells the header "apiley": it is the usual apikey header.
        return self._call("POST", "/api/3/details/linkConversion", json={"url": url}, idempotent=True)

    # --- Link lists -----------------------------------------------------------------------------

    def link_list_create(self, *, name, link_ids=None, links=None) -> dict:
        """`link_ids` of existing links, or new `links` as [{"name", "url"}]; neither: an empty list."""
        # Link ids go out as strings, as in both link list examples (["311"]).
        return self._call("POST", LINK_LIST, json=_clean({
            "name": name, "linkIds": _str_ids(link_ids), "links": links,
        }))

    def link_list_import_file(self, *, name, doc, mapping, filename=None) -> dict:
        """`mapping` marks each column "name" or "url", e.g. ["name", "url"]."""
        return self._upload("POST", LINK_LIST, doc=doc, filename=filename,
                            fields={"name": name, "mapping": _mapping(mapping)})

    def link_list_add_links(self, list_id, *, link_ids) -> list[int]:
        result = self._call("POST", f"{LINK_LIST}/{int(list_id)}/links", json={"ids": _str_ids(link_ids)})
        return [to_int(i) for i in result]

    def link_list_add_links_bulk(self, list_id, *, links) -> dict:
        """Create new links ([{"name", "url"}]) straight into the list."""
        return self._call("POST", f"{LINK_LIST}/{int(list_id)}/links/bulk", json={"links": list(links)})

    def link_list_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(LINK_LIST, start=start, limit=limit, enabled=enabled, filter=filter)

    def link_list_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.link_list_list, **params)

    def link_list_links(self, list_id) -> dict:
        """{"id", "links": [{"linkId", "url"}]}."""
        result = self._call("GET", f"{LINK_LIST}/{int(list_id)}/links")
        # The reference wraps the one list object in an array; hand back the object.
        return result[0] if isinstance(result, list) and len(result) == 1 else result

    def link_list_replace_file(self, list_id, *, doc, mapping, name=None, filename=None) -> dict:
        return self._upload("PUT", f"{LINK_LIST}/{int(list_id)}", doc=doc, filename=filename,
                            fields={"name": name, "mapping": _mapping(mapping)})

    def link_list_patch(self, list_id, *, enabled=None, name=None) -> dict:
        # Prose says linkList/{id}; the example says LinkList.
        return self._json("PATCH", f"{LINK_LIST}/{int(list_id)}", enabled=enabled, name=name)

    def link_list_disable(self, list_id) -> bool:
        return self._disable(f"{LINK_LIST}/{int(list_id)}")

    def link_list_remove_link(self, list_id, link_id) -> bool:
        # The query key really is "[id]" (example and prose agree).
        return to_bool(self._call("DELETE", f"{LINK_LIST}/{int(list_id)}/links",
                                  params={"[id]": int(link_id)}))

    # --- Word spinners --------------------------------------------------------------------------

    def spinner_create(self, *, name, words) -> dict:
        return self._call("POST", SPINNER, json={"name": name, "words": list(words)})

    def spinner_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(SPINNER, start=start, limit=limit, enabled=enabled, filter=filter)

    def spinner_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.spinner_list, **params)

    def spinner_update(self, spinner_id, *, name=None, words=None) -> dict:
        """Giving `words` replaces the previous ones."""
        return self._call("PUT", f"{SPINNER}/{int(spinner_id)}",
                          json=_clean({"name": name, "words": None if words is None else list(words)}))

    def spinner_patch(self, spinner_id, *, enabled=None, name=None) -> dict:
        return self._json("PATCH", f"{SPINNER}/{int(spinner_id)}", enabled=enabled, name=name)

    def spinner_disable(self, spinner_id) -> bool:
        # The prose says DELETE .../campaign/{id}; the example and REST pattern say spinner/{id}.
        return self._disable(f"{SPINNER}/{int(spinner_id)}")

    # --- Templates ------------------------------------------------------------------------------

    def template_create(self, *, name, body) -> dict:
        return self._call("POST", TEMPLATE, json={"name": name, "body": body})

    def template_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(TEMPLATE, start=start, limit=limit, enabled=enabled, filter=filter)

    def template_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.template_list, **params)

    def template_update(self, template_id, *, name=None, body=None) -> dict:
        """The reference has no way to enable a template again (no PATCH, no `enabled` in PUT)."""
        return self._json("PUT", f"{TEMPLATE}/{int(template_id)}", name=name, body=body)

    def template_disable(self, template_id) -> bool:
        return self._disable(f"{TEMPLATE}/{int(template_id)}")

    # --- Triggers -------------------------------------------------------------------------------

    def trigger_create(self, *, name) -> dict:
        """The broadcast waits until the returned `short_url` is opened."""
        return self._call("POST", TRIGGER, json={"name": name})

    def trigger_list(self, *, start=None, limit=None, enabled=None, filter=None) -> list[dict]:
        return self._list(TRIGGER, start=start, limit=limit, enabled=enabled, filter=filter)

    def trigger_iter(self, **params) -> Iterator[dict]:
        return self.iter_pages(self.trigger_list, **params)

    def trigger_update(self, trigger_id, *, name=None) -> dict:
        """The reference has no way to enable a trigger again (no PATCH, no `enabled` in PUT)."""
        return self._json("PUT", f"{TRIGGER}/{int(trigger_id)}", name=name)

    def trigger_disable(self, trigger_id) -> bool:
        return self._disable(f"{TRIGGER}/{int(trigger_id)}")


# --- Request builders ---------------------------------------------------------------------------

def _clean(fields: Mapping | None) -> dict | None:
    """Leave out optional fields the caller did not give, rather than sending them as null."""
    return None if fields is None else {k: v for k, v in fields.items() if v is not None}


def _query_bool(value):
    return None if value is None else ("true" if value else "false")


def _filter(value):
    """'name=x,type=2,type=12' from {"name": "x", "type": [2, 12]} (strings pass through)."""
    if value is None or isinstance(value, str):
        return value
    pairs = value.items() if isinstance(value, Mapping) else value
    return ",".join(
        f"{key}={item}"
        for key, val in pairs
        for item in (val if isinstance(val, list | tuple) else [val])
    )


def _mapping(mapping) -> str:
    """The `mapping` form field: a JSON object from column index (as a string) to marker."""
    if isinstance(mapping, str):
        return mapping
    if not isinstance(mapping, Mapping):
        mapping = dict(enumerate(mapping))
    return jsonlib.dumps({str(k): v for k, v in mapping.items()})


def _int_list(ids):
    return None if ids is None else [int(i) for i in ids]


def _str_ids(ids):
    return None if ids is None else [str(int(i)) for i in ids]


def _phone_int(number):
    return None if number is None else int(to_phone(number))


def _platform_links(bot_redirect, preview_url):
    """None when neither is given (left as it is); an empty string leaves that one out, so {} clears both."""
    if bot_redirect is None and preview_url is None:
        return None
    return {key: value for key, value in (("bot_redirect", bot_redirect), ("preview_url", preview_url)) if value}


@contextmanager
def _document(doc, filename=None):
    """The multipart `doc` part from bytes, a binary file object or a Path (opened and closed here)."""
    if isinstance(doc, str):
        raise TypeError("doc must be bytes, a binary file or a pathlib.Path (a str is ambiguous)")
    if isinstance(doc, os.PathLike):
        path = Path(doc)
        with path.open("rb") as stream:
            yield (filename or path.name, stream, _content_type(filename or path.name))
        return
    name = filename or os.path.basename(getattr(doc, "name", "") or "") or "upload.csv"
    yield (name, doc, _content_type(name))


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"

