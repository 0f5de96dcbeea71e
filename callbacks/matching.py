"""What stored callback events say, and which messages they name.

Shared by applying (callbacks.services) and by the recount from the raw log (callbacks.selectors),
so both read a stored body and find its message the same way.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from campaigns.models import Broadcast, Message
from messaging.models import GenericProviderConfig

from . import parsing

CHUNK = 2000  # values per IN (…): inside SQLite's limit of 32,766 parameters


def stored_parse(rows, *, strict: bool = True) -> list[parsing.Parsed | None]:
    """(account id, kind, body) of stored events → what each says. A body that cannot be read
    raises, or with strict=False gives None."""
    configs: dict[int, GenericProviderConfig] = {}
    parsed = []
    for account_id, kind, body in rows:
        try:
            if kind == "generic":
                if account_id not in configs:
                    configs[account_id] = GenericProviderConfig.objects.get(account_id=account_id)
                parsed.append(parsing.parse_generic(body, configs[account_id])[0])
            else:
                parsed.append(parsing.load(body))
        except (ValueError, LookupError, TypeError, GenericProviderConfig.DoesNotExist):
            if strict:
                raise
            parsed.append(None)
    return parsed


def references(item) -> list[str]:
    """The keys an event item names its message by (kept for events whose message is not known yet)."""
    keys = []
    if getattr(item, "client_ref", None):
        keys.append(f"r:{item.client_ref}")
    if getattr(item, "broadcast_id", None):
        keys.append(f"b:{item.broadcast_id}:{item.recipient}")
        keys.append(f"B:{item.broadcast_id}")  # found at once when the broadcast's messages are made
    if item.message_id:
        keys.append(f"i:{item.message_id}")
    return keys


def message_references(rows) -> set[str]:
    """The same keys for messages: rows of (client_ref, provider id, MessageWhiz broadcast id, phone)."""
    keys = set()
    for client_ref, provider_id, remote_id, phone in rows:
        keys.add(f"r:{uuid.UUID(str(client_ref))}")
        if provider_id:
            keys.add(f"i:{provider_id}")
        if remote_id:
            keys.add(f"b:{remote_id}:{phone}")
    return keys


@dataclass
class Refs:
    """The references the events use, and the message ids they resolve to."""

    by_ref: dict = field(default_factory=dict)  # (account, client_ref uuid) → pk
    by_id: dict = field(default_factory=dict)  # (account, provider message id) → pk
    broadcasts: dict = field(default_factory=dict)  # (account, MessageWhiz broadcast id) → broadcast pk
    by_phone: dict = field(default_factory=dict)  # (broadcast pk, phone) → pk

    def message(self, account_id: int, item) -> int | None:
        """Our own id first, then broadcast + recipient (unique, and what campaigns created the
        message by), then the provider's id."""
        if getattr(item, "client_ref", None) and (pk := self.by_ref.get((account_id, item.client_ref))):
            return pk
        if getattr(item, "broadcast_id", None) and (pk := self.by_phone.get(
                (self.broadcasts.get((account_id, item.broadcast_id)), item.recipient))):
            return pk
        return self.by_id.get((account_id, item.message_id)) if item.message_id else None

    def pks(self) -> set[int]:
        return {*self.by_ref.values(), *self.by_id.values(), *self.by_phone.values()}


def resolve(items: list[tuple[int, object]]) -> Refs:
    """(account id, item) pairs → Refs, with one query per kind of reference, each only for what is
    still unresolved."""
    refs = Refs()
    accounts = {account for account, _ in items}
    client_refs = {item.client_ref for _, item in items if getattr(item, "client_ref", None)}
    for chunk in db_chunks(sorted(client_refs, key=str)):
        rows = Message.objects.filter(among(Message, "client_ref", chunk), account_id__in=accounts)
        for pk, account, ref in rows.values_list("pk", "account_id", "client_ref"):
            refs.by_ref[(account, uuid.UUID(str(ref)))] = pk

    remote_ids = {item.broadcast_id for _, item in items if getattr(item, "broadcast_id", None)}
    for chunk in db_chunks(sorted(remote_ids)):
        rows = Broadcast.objects.filter(among(Broadcast, "remote_id", chunk), account_id__in=accounts).order_by("-pk")
        for pk, account, remote_id in rows.values_list("pk", "account_id", "remote_id"):
            refs.broadcasts[(account, remote_id)] = pk
    phones = defaultdict(set)
    for account, item in items:
        broadcast = refs.broadcasts.get((account, getattr(item, "broadcast_id", None)))
        if broadcast and not refs.message(account, item):
            phones[broadcast].add(item.recipient)
    for broadcast, numbers in phones.items():
        for chunk in db_chunks(sorted(numbers)):
            rows = Message.objects.filter(among(Message, "phone", chunk), broadcast_id=broadcast)
            refs.by_phone.update({(broadcast, phone): pk for pk, phone in rows.values_list("pk", "phone")})

    for account, item in items:
        # A DLR found by client_ref also names the provider's id, which a click in the same batch
        # may use before it is written to the message.
        if (getattr(item, "client_ref", None) and item.message_id and not getattr(item, "broadcast_id", None)
                and (pk := refs.by_ref.get((account, item.client_ref)))):
            refs.by_id.setdefault((account, item.message_id), pk)
    provider_ids = {item.message_id for account, item in items if item.message_id and not refs.message(account, item)}
    for chunk in db_chunks(sorted(provider_ids)):
        # exclude(""): lets PostgreSQL use the partial index on provider ids for a long list.
        rows = Message.objects.filter(among(Message, "provider_message_id", chunk), account_id__in=accounts).exclude(
            provider_message_id="").order_by("-pk")
        for pk, account, provider_id in rows.values_list("pk", "account_id", "provider_message_id"):
            refs.by_id[(account, provider_id)] = pk  # the oldest wins if a provider ever reused an id
    return refs


def among(model, name: str, values: list):
    """A filter: the field is one of `values`. PostgreSQL takes them as one array parameter
    (`= ANY(%s)`): for tens of thousands of values, building and sending an IN list of as many
    placeholders costs more than the query. Elsewhere an IN list, from db_chunks."""
    if connection.vendor != "postgresql":
        return Q(**{f"{name}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(name).column)}"
    # psycopg adapts the ints, strings and UUIDs as they are.
    return RawSQL(f"{column} = ANY(%s)", [list(values)], output_field=BooleanField())  # noqa: S611 - our names


def db_chunks(items):
    """All at once for `among` on PostgreSQL; in chunks inside SQLite's parameter limit elsewhere."""
    items = list(items)
    return [items] if connection.vendor == "postgresql" and items else chunks(items)


def chunks(items, size: int = CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]
