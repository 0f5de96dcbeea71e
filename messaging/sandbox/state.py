"""The sandbox's in-memory world: every collection, its auto ids, and list/filter/page helpers.

One re-entrant lock guards everything; the app holds it for the whole of each API call and the
callback thread for each state change, so handlers can read-modify-write without care.
"""

import random
import re
import threading
from collections.abc import Iterable

from .errors import ApiError, not_found
from .validation import integer, parse_bool

# First id of each auto-id collection: the reference's example ids, so answers look like the real
# thing and ids of different kinds rarely coincide (which would hide a client mixing them up).
AUTO_ID_START = {
    "campaigns": 46279,
    "recipient_lists": 267628,
    "senders": 28938892,
    "sender_lists": 5456,
    "unsubscribe_lists": 21534,
    "broadcasts": 1174181,
    "segments": 523940,
    "links": 165655,
    "link_lists": 6940,
    "word_spinners": 10520,
    "templates": 946126,
    "triggers": 75677,
    "otps": 1,
    "clicks": 1,
}
# `messages` are keyed by their string message_id; `recipients` live per recipient list.
COLLECTIONS = (*AUTO_ID_START, "messages", "recipients")

USER_ID = 3191  # the reference's example user and company, echoed where answers carry them
COMPANY_ID = 3182
DEFAULT_SEED = 0


class Store:
    def __init__(self, seed: int = DEFAULT_SEED):
        self.lock = threading.RLock()
        self.seed = seed
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        with self.lock:
            if seed is not None:
                self.seed = seed
            self.rng = random.Random(self.seed)
            self.data: dict[str, dict] = {name: {} for name in AUTO_ID_START}
            self.data["messages"] = {}
            self.recipients: dict[int, list[dict]] = {}  # recipient list id → recipients
            self.pending: dict[int, list[dict]] = {}  # smart broadcast id → recipients not yet sent
            self.by_broadcast: dict[int, list[str]] = {}  # broadcast id → message ids
            self.next_ids = dict(AUTO_ID_START)

    def reseed(self, seed: int) -> None:
        with self.lock:
            self.seed = seed
            self.rng = random.Random(seed)

    def next_id(self, collection: str) -> int:
        ident = self.next_ids[collection]
        self.next_ids[collection] = ident + 1
        return ident

    def add(self, collection: str, obj: dict) -> dict:
        """Store obj, assigning the next id unless it brings its own."""
        if collection == "messages":
            self.data["messages"][obj["message_id"]] = obj
            self.by_broadcast.setdefault(obj.get("broadcast_id"), []).append(obj["message_id"])
            return obj
        if obj.get("id") is None:
            obj["id"] = self.next_id(collection)
        else:
            obj["id"] = integer(obj["id"], "id", minimum=1)
            self.next_ids[collection] = max(self.next_ids[collection], obj["id"] + 1)
        self.data[collection][obj["id"]] = obj
        return obj

    def get(self, collection: str, ident) -> dict | None:
        return self.data[collection].get(ident)

    def find(self, collection: str, label: str, ident) -> dict:
        obj = self.data[collection].get(ident)
        if obj is None:
            raise not_found(label, ident)
        return obj

    def items(self, collection: str) -> list[dict]:
        return list(self.data[collection].values())

    def broadcast_messages(self, broadcast_id: int) -> list[dict]:
        messages = self.data["messages"]
        return [messages[mid] for mid in self.by_broadcast.get(broadcast_id, ()) if mid in messages]

    def dump(self, collection: str) -> list[dict]:
        """A collection as a list, for the control endpoint."""
        if collection == "recipients":
            return [
                {"recipient_list_id": list_id, **recipient}
                for list_id, recipients in self.recipients.items()
                for recipient in recipients
            ]
        return list(self.data[collection].values())


def parse_filter(value: str | None, keys: Iterable[str]) -> list[tuple[str, str]]:
    """`name=a,b,type=2` → [("name", "a,b"), ("type", "2")].

    A comma only separates pairs when a known key follows it, so names and URLs may contain commas
    and `=` (`filter=url=https://x.com/?a=b`).
    """
    if not value:
        return []
    keys = sorted(keys, key=len, reverse=True)
    pattern = re.compile(r"(?:^|,)(" + "|".join(re.escape(k) for k in keys) + r")=")
    matches = list(pattern.finditer(value))
    if not matches or matches[0].start() != 0:
        raise ApiError(
            400,
            f"filter must have the form {{parameter_name}}={{parameter_value}} "
            f"with parameter_name one of: {', '.join(sorted(keys))}",
        )
    pairs = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(value)
        pairs.append((match.group(1), value[match.end() : end]))
    return pairs


# Decision (the reference is silent on a server-side cap): pages hold at most this many items
# whatever `limit` asks, and nothing in the answer says a page was shortened, so a client must
# page on until an empty page rather than stop at the first short one.
PAGE_CAP = 25


def page_params(query, default_limit: int = 10, max_limit: int | None = None) -> tuple[int, int]:
    start = integer(query.get("start", 0), "start", minimum=0)
    limit = integer(query.get("limit", default_limit), "limit", minimum=1, maximum=max_limit)
    return start, min(limit, PAGE_CAP)


def enabled_param(query) -> bool:
    raw = query.get("enabled")
    if raw is None or raw == "":
        return True
    parsed = parse_bool(raw)
    if parsed is None:
        raise ApiError(400, "enabled must be a boolean value")
    return parsed
