"""Simulated messages: token expansion, GSM-7/UCS-2 parts, price, and the message records that
delivery reports, broadcast lists, conversions and callbacks are computed from."""

import re

from . import ids
from .errors import ApiError, not_found
from .state import Store
from .validation import iso, now

RATE = 3.36  # price per message part, as in the reference's estimate example
MCC_MNC = 111222

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")
GSM, UCS2 = 0, 8  # SMPP data_coding values, reported as a part's `encoding`

TOKEN = re.compile(r"\{\{\s*([A-Za-z_0-9]+)\s*(?::\s*([^}]*?)\s*)?\}\}")
URL = re.compile(r"https?://[^\s<>\"']+")
META_TOKENS = (
    "first_name",
    "last_name",
    "email",
    "url",
    "custom",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
    "gender",
)
# Every action of the estimate's `messageExpanded`, in the reference's order.
ACTIONS = (
    "callback",
    "first_name",
    "last_name",
    "url",
    "random_symbol",
    "verification_code",
    "custom",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
    "gender",
    "word_spinner",
    "link",
    "link_list",
    "unsubscription_link",
    "shorten_url",
    "callback_link",
)
PARAMETER_ACTIONS = {
    "custom",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
    "word_spinner",
    "link",
    "link_list",
    "unsubscription_link",
    "shorten_url",
    "callback_link",
}


def encoding(text: str) -> int:
    return GSM if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text) else UCS2


def split_parts(text: str) -> list[str]:
    """The message's PDUs: 160/153 GSM-7 septets (extension characters take two) or 70/67 UCS-2
    units."""
    if encoding(text) == GSM:
        sizes = [2 if ch in GSM_EXTENDED else 1 for ch in text]
        single, multi = 160, 153
    else:
        sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, multi = 70, 67
    if sum(sizes) <= single:
        return [text]
    parts, current, used = [], [], 0
    for ch, size in zip(text, sizes, strict=True):
        if used + size > multi:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += size
    parts.append("".join(current))
    return parts


def check_tokens(store: Store, text: str) -> None:
    """Tokens that name objects must name existing ones (else the broadcast could not be sent)."""
    for name, parameter in TOKEN.findall(text):
        collection = {
            "link": ("links", "Link"),
            "link_list": ("link_lists", "Link list"),
            "word_spinner": ("word_spinners", "Word spinner"),
        }.get(name.lower())
        if collection is None:
            continue
        try:
            ident = int(parameter)
        except (TypeError, ValueError):
            raise ApiError(400, f"{{{{{name}:{parameter}}}}} must name an id") from None
        if store.get(collection[0], ident) is None:
            raise not_found(collection[1], ident)


def expand_actions(text: str) -> dict:
    """The estimate's `messageExpanded.actions`: how often each token occurs, with parameters."""
    actions = {}
    for action in ACTIONS:
        entry: dict = {"replacement": "h" if action == "random_symbol" else "", "count": 0}
        if action == "callback":
            entry["uuid"] = ""
        if action in PARAMETER_ACTIONS:
            entry["parameters"] = []
        if action == "word_spinner":
            entry["isApproximate"] = True
        actions[action] = entry
    for name, parameter in TOKEN.findall(text):
        entry = actions.get(name.lower())
        if entry is None:
            continue
        entry["count"] += 1
        if parameter and "parameters" in entry:
            entry["parameters"].append(parameter)
    # key order as in the reference example
    return {
        action: dict(
            sorted(
                entry.items(),
                key=lambda kv: ["replacement", "uuid", "count", "parameters", "isApproximate"].index(kv[0]),
            )
        )
        for action, entry in actions.items()
    }


class Renderer:
    """Expands a message body for one recipient; link lists rotate evenly across recipients."""

    def __init__(self, store: Store, otp_code: str | None = None):
        self.store = store
        self.otp_code = otp_code
        self.rotation: dict[int, int] = {}

    def render(self, text: str, meta: dict) -> tuple[str, list[dict]]:
        links: list[dict] = []
        rng = self.store.rng

        def track(url: str, link_id=None, link_list_id=None) -> str:
            short = ids.short_link(rng)
            links.append({"short": short, "url": url, "link_id": link_id, "link_list_id": link_list_id})
            return short

        def replace(match: re.Match) -> str:
            name, parameter = match.group(1).lower(), match.group(2)
            if name in META_TOKENS:
                return str(meta.get(name) or "")
            if name == "verification_code":
                return self.otp_code or ""
            if name == "random_symbol":
                return rng.choice("abcdefghijklmnopqrstuvwxyz")
            if name == "word_spinner":
                spinner = self.store.get("word_spinners", _int(parameter))
                return rng.choice(spinner["words"]) if spinner and spinner.get("words") else ""
            if name == "link":
                link = self.store.get("links", _int(parameter))
                return track(link["url"], link_id=link["id"]) if link else ""
            if name == "link_list":
                return self._link_from_list(_int(parameter), track)
            if name == "shorten_url":
                return track(meta["url"]) if meta.get("url") else ""
            if name in ("unsubscription_link", "callback", "callback_link"):
                return f"{ids.SHORT_LINK_DOMAIN}/{ids.short_code(rng)}"
            return match.group(0)

        content = TOKEN.sub(replace, text)
        return content, links + self.track_urls(text)

    def track_urls(self, text: str) -> list[dict]:
        """Links written into the text are tracked (clicks, conversion) too; the text is unchanged."""
        return [
            {"short": ids.short_link(self.store.rng), "url": url, "link_id": None, "link_list_id": None}
            for url in URL.findall(text)
        ]

    def _link_from_list(self, list_id, track) -> str:
        link_list = self.store.get("link_lists", list_id)
        members = [self.store.get("links", lid) for lid in (link_list or {}).get("link_ids", [])]
        members = [link for link in members if link]
        if not members:
            return ""
        index = self.rotation.get(list_id, 0)
        self.rotation[list_id] = index + 1
        link = members[index % len(members)]
        return track(link["url"], link_id=link["id"], link_list_id=list_id)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def new_message(
    store: Store,
    *,
    broadcast_id: int,
    segment_id: int,
    recipient: str,
    sender: str,
    content: str,
    links: list[dict],
    source: str,
    client_ref: str | None = None,
    callback: str | None = None,
) -> dict:
    parts = split_parts(content)
    enc = encoding(content)
    message = {
        "message_id": ids.nanoid(store.rng),
        "_id": ids.object_id(store.rng),
        "broadcast_id": broadcast_id,
        "segment_id": segment_id,
        "recipient": recipient,
        "sender": sender,
        "content": content,
        "encoding": enc,
        "parts": [{"pdu_id": ids.nanoid(store.rng), "encoding": enc, "content": part} for part in parts],
        "parts_count": len(parts),
        "price": round(RATE * len(parts), 2),
        "state": None,  # None: not submitted yet; 0: sent; 1: ENROUTE; 2..9: final DLR states
        "status": "SCHEDULED",
        "client_ref": client_ref,
        "callback": callback,
        "links": links,
        "clicks": 0,
        "unique_clicks": 0,
        "created": iso(now()),
        "updated": None,
        "source": source,
    }
    return store.add("messages", message)


def estimate_parts(text: str) -> int:
    """Parts of a body with its tokens left empty: what an estimate can know before sending."""
    return len(split_parts(TOKEN.sub("", text)))
