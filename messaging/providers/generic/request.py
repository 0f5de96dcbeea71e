"""Turning a generic provider's configuration and one message (or a batch) into an HTTP request.

`$$To`, `$$Body` and `$$MessageID` (and India's `$$DltTemplateId` / `$$DltEntityId`, the
broadcast's DLT registration) are replaced in one pass (a body that itself contains "$$To"
stays as written), case-sensitively, and each value is escaped for the place it lands in:

* endpoint: percent-encoded (`quote(…, safe="")`), so `&`, `=`, `#`, `/` and spaces in a message
  cannot break the query string;
* header values: as is when printable ASCII, otherwise percent-encoded — a CR/LF in a message
  must never start a new header, and HTTP headers carry no UTF-8;
* form parameters (GET query or x-www-form-urlencoded body): substituted raw, then encoded by
  `urlencode`, never by hand;
* JSON: the template is parsed once and placeholders are replaced inside its *string values and
  keys*; the result is serialised by `json.dumps`. Quotes, backslashes and newlines in a message
  are therefore escaped by the serializer, never concatenated into JSON text. A JSON string that
  is exactly `"$$Records"` (batch envelope) or `"$$Template"` (WhatsApp) becomes that value;
* raw bodies: escaped for the Content-Type header the account sends — JSON (a pasted JSON body
  with "$$Body" inside quotes stays valid whatever the message holds) or x-www-form-urlencoded
  (percent-encoded) — and otherwise substituted as is: the user owns that format.

`$$WhatsAppNumber` is the account's own WhatsApp number (digits), filled in once when compiling.
Header names and values are checked here too: HTTP carries only plain ASCII in headers, and a
value that cannot be written would otherwise only fail when the first message is sent.

Everything here is pure (no I/O) and compiled once per account: the dispatch engine builds
thousands of requests a second with it.
"""

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urlsplit

from messaging import safejson

PLACEHOLDER_RE = re.compile(r"\$\$(To|Body|MessageID|DltTemplateId|DltEntityId)")
PLACEHOLDERS = ("$$To", "$$Body", "$$MessageID", "$$DltTemplateId", "$$DltEntityId")
RECORDS = "$$Records"
TEMPLATE = "$$Template"
WHATSAPP_NUMBER = "$$WhatsAppNumber"
MAX_BATCH = 1000
# With a messages-per-second cap, a batch's records all start at once: one request carries at most
# this share of a second's cap, so no one-second window exceeds the cap by more than that (5%).
BATCH_SHARE_OF_RATE = 20

CONTENT_TYPES = {
    "form": "application/x-www-form-urlencoded",
    "json": "application/json",
    "raw": "text/plain; charset=utf-8",
}
# Printable ASCII except '%': left alone in header values.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "%")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token
_HEADER_VALUE_RE = re.compile(r"^[\t\x20-\x7e]*$")


class TemplateError(ValueError):
    """The configuration cannot produce a request; str() says what to fix."""


@dataclass(frozen=True, slots=True)
class Prepared:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class Record:
    to: str
    body: str
    message_id: str

    def values(self) -> dict[str, str]:
        return {"To": self.to, "Body": self.body, "MessageID": self.message_id}


def substitute(text: str, values: Mapping[str, str], escape=None) -> str:
    if "$$" not in text:
        return text
    if escape is None:
        return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)
    return PLACEHOLDER_RE.sub(lambda m: escape(values[m.group(1)]), text)


def escape_url(value: str) -> str:
    return quote(value, safe="")


def escape_header(value: str) -> str:
    return quote(value, safe=_HEADER_SAFE)


def substitute_json(node: Any, values: Mapping[str, str], objects: Mapping[str, Any] | None = None) -> Any:
    """A copy of a parsed JSON template with placeholders replaced in strings (values and keys)."""
    if isinstance(node, str):
        if objects and node in objects:
            return objects[node]
        return substitute(node, values)
    if isinstance(node, dict):
        return {substitute(k, values): substitute_json(v, values, objects) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute_json(v, values, objects) for v in node]
    return node


def parse_json_template(text: str, what: str) -> Any:
    try:
        return safejson.loads(text)
    except safejson.JSONError as exc:
        raise TemplateError(f"{what} is {exc} ({exc.detail})") from None


def escape_json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def raw_escape(content_type: str):
    """How values are escaped in a raw body sent with this Content-Type (None: as is)."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return escape_json
    if media == "application/x-www-form-urlencoded":
        return quote_plus
    return None


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TemplateError("The endpoint must be an http:// or https:// URL")
    if not url.isascii():
        raise TemplateError("The endpoint has characters that are not plain ASCII: percent-encode them")


def check_header(name: str, value: str) -> None:
    if not _HEADER_NAME_RE.match(name):
        raise TemplateError(f"“{name}” is not a valid header name: letters, digits and - only.")
    if not _HEADER_VALUE_RE.match(value):
        raise TemplateError(f"The value of the header {name} cannot be sent: HTTP headers carry plain ASCII only, "
                            "without line breaks. Put such text in the body, or percent-encode it.")


def whatsapp_number_clean(text: str | None) -> str:
    """A WhatsApp number as providers take it: the digits with the country code, without spaces
    or a leading "+" ("" for none); ValueError if that is not 6 to 20 digits."""
    number = "".join((text or "").split()).lstrip("+")
    if number and not re.fullmatch(r"[0-9]{6,20}", number):
        raise ValueError(number)
    return number


def own_number(config) -> str:
    """The account's WhatsApp number for $$WhatsAppNumber (TemplateError if the request needs it and it is missing)."""
    try:
        number = whatsapp_number_clean(config.whatsapp_number)
    except ValueError:
        number = ""
    used = any(WHATSAPP_NUMBER in str(text) for text in (
        config.endpoint, config.body_template, config.batch_record_template, config.batch_envelope,
        *(v for pair in (config.headers or []) for v in pair), *(v for pair in (config.params or []) for v in pair)))
    if used and not number:
        raise TemplateError(f"The request uses {WHATSAPP_NUMBER}: enter the account's WhatsApp number with its "
                            "country code, digits only.")
    return number


class RequestTemplate:
    """A configuration compiled once; `single()` and `batch()` build requests from it."""

    def __init__(self, config, *, dlt: Mapping[str, str] | None = None):
        """`dlt`: the broadcast's India DLT ids for $$DltTemplateId / $$DltEntityId (else empty)."""
        number = own_number(config)

        def own(text) -> str:
            return str(text).replace(WHATSAPP_NUMBER, number)

        self.method = config.method
        self.endpoint = own(config.endpoint.strip())
        self.body_format = config.body_format
        self.params = [(own(k), own(v)) for k, v in (config.params or [])]
        self.headers = [(str(k).strip(), own(v)) for k, v in (config.headers or []) if str(k).strip()]
        for name, value in self.headers:
            check_header(name, value)
        if config.auth == "basic":
            token = base64.b64encode(f"{config.username}:{config.password}".encode()).decode()
            self.headers.append(("Authorization", f"Basic {token}"))
        content_type = next((v for k, v in self.headers if k.lower() == "content-type"), None)
        if self.method == "POST" and content_type is None:
            content_type = CONTENT_TYPES[self.body_format]
            self.headers.append(("Content-Type", content_type))
        self.json_template = None
        if self.method == "POST" and self.body_format == "json":
            self.json_template = parse_json_template(own(config.body_template) or "{}", "The JSON parameters")
        self.raw_template = own(config.body_template or "")
        self.raw_escape = raw_escape(content_type or "")
        self.batch = bool(config.batch_enabled)
        self.batch_size = min(MAX_BATCH, max(1, config.batch_size or 1))
        if config.rate_limit:
            self.batch_size = min(self.batch_size, max(1, config.rate_limit // BATCH_SHARE_OF_RATE))
        if self.batch:
            self.record_template = parse_json_template(own(config.batch_record_template) or "{}", "The batch record")
            self.envelope = parse_json_template(own(config.batch_envelope) or f'"{RECORDS}"', "The batch envelope")
        self.dlt = {"DltTemplateId": "", "DltEntityId": "", **(dlt or {})}
        # Only configurations that name a DLT placeholder pay for merging the ids into each record.
        self.uses_dlt = "$$Dlt" in " ".join([self.endpoint, self.raw_template, str(config.batch_record_template or ""),
                                             *(f"{k} {v}" for k, v in self.params + self.headers)])
        check_url(substitute(self.endpoint, {"To": "1", "Body": "x", "MessageID": "x", **self.dlt}, escape_url))

    def _values(self, record: Record) -> dict[str, str]:
        values = record.values()
        if self.uses_dlt:
            values.update(self.dlt)
        return values

    def single(self, record: Record, *, objects: Mapping[str, Any] | None = None) -> Prepared:
        values = self._values(record)
        url = substitute(self.endpoint, values, escape_url)
        headers = {k: substitute(v, values, escape_header) for k, v in self.headers}
        params = [(substitute(k, values), substitute(v, values)) for k, v in self.params]
        body = None
        if self.method == "GET":
            if params:
                url += ("&" if "?" in url else "?") + urlencode(params)
        elif self.body_format == "form":
            body = urlencode(params).encode()
        elif self.body_format == "json":
            body = _dumps(substitute_json(self.json_template, values, objects))
        else:
            body = substitute(self.raw_template, values, self.raw_escape).encode()
        return Prepared(self.method, url, headers, body)

    def batch_request(self, records: list[Record]) -> Prepared:
        """One request carrying up to 1,000 records: each from the record template, inside the envelope."""
        if not 0 < len(records) <= MAX_BATCH:
            raise TemplateError(f"A batch holds 1 to {MAX_BATCH} records")
        blank = {"To": "", "Body": "", "MessageID": "", **self.dlt}
        items = [substitute_json(self.record_template, self._values(r)) for r in records]
        body = _dumps(substitute_json(self.envelope, blank, {RECORDS: items}))
        url = substitute(self.endpoint, blank, escape_url)
        headers = {k: substitute(v, blank, escape_header) for k, v in self.headers}
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = CONTENT_TYPES["json"]
        return Prepared("POST", url, headers, body)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_path(value: Any, path: str) -> Any:
    """`data.0.id` → value["data"][0]["id"]; None when any step is missing."""
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value
