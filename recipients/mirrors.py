"""Recipient and unsubscribe lists as mirrored resources.

Their content is a file of recipients rather than fields, so they plug their own create, update
and pull into the sync machinery:

* push — a new list is uploaded (MessageWhiz's file import with a `mapping`; small phone-only
  lists go as `numbers`). A list that has only gained numbers since its last sync sends just
  those (the reference's add-numbers endpoints), when they carry no other field; any other
  change replaces the list whole (the reference's PUT with a file). A rename alone is PATCHed.
  Files go as RFC 4180 comma CSV with a header row and the documented `mapping`, the values
  exactly as stored: no spreadsheet neutralising, which MessageWhiz would keep as part of the value.
  Every answer's figures (`inserted`, `wrong`, the list's size) are kept on the list and compared
  with ours: a list MessageWhiz took only in part is failed, with its figures as the reason.
* pull — a new or changed list's members are fetched, staged and loaded as an import loads them
  (COPY on PostgreSQL), each list in a transaction of its own.

The snapshot's content fingerprint — member count and highest member id — tells these apart:
ids only grow, so if the members up to the old highest id still number the old count, members
were only added.

A pull sees a remote change only in what the reference lists: name, enabled and count. It offers
no revision or modification time, so a remote edit that keeps the count (one number swapped for
another) goes unnoticed until the count moves or the list changes here.
"""

import operator
import tempfile
from dataclasses import dataclass
from functools import reduce
from itertools import islice

from django.db.models import Count, Max, Q

from messaging.messagewhiz.parsing import to_int, to_phone
from messaging.sync.resources import MirrorResource, register

from .consent import consent_list_record
from .exports import recipient_list_columns, recipient_list_upload_csv, unsubscribe_list_upload_csv
from .importing import Staged, list_model, save_staged, stage_rows
from .models import EMAIL_URL_MAX, NAME_MAX, OTHER_MAX, PHONE_MAX, ConsentEvent, RecipientList, UnsubscribeList

# MessageWhiz's fields; custom1..custom4 exist only here, so they stay out of uploads.
REMOTE_FIELDS = {"first_name": NAME_MAX, "last_name": NAME_MAX, "email": EMAIL_URL_MAX, "url": EMAIL_URL_MAX,
                 "custom": OTHER_MAX}
REMOTE_MARKERS = {"phone_number", *REMOTE_FIELDS}
SMALL_LIST = 1000  # up to this many phone-only numbers go as JSON `numbers` instead of a file
ADD_BATCH = 10_000  # numbers per add-numbers request
_HAS_REMOTE_FIELD = reduce(operator.or_, (Q(**{f"{field}__gt": ""}) for field in REMOTE_FIELDS))


def _fingerprint(members) -> dict:
    figures = members.aggregate(count=Count("pk"), last=Max("pk"))
    return {"content": [figures["count"], figures["last"]]}


def _added_since(members, previous: dict):
    """The members added since the sync that left `previous`, or None if anything else changed."""
    content = previous.get("content")
    if not content:
        return None
    count, last = content
    if last is None:
        return members.all() if count == 0 else None
    if members.filter(pk__lte=last).count() != count:
        return None
    return members.filter(pk__gt=last)


def _batches(phones):
    phones = phones.order_by("pk").values_list("phone", flat=True).iterator(chunk_size=ADD_BATCH)
    while batch := list(islice(phones, ADD_BATCH)):
        yield batch


def _spooled(chunks):
    stream = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the caller closes it
    for chunk in chunks:
        stream.write(chunk)
    stream.seek(0)
    return stream


def _recipient_upload(obj):
    columns = recipient_list_columns(recipient_list=obj)
    mapping = {str(i): column for i, column in enumerate(columns) if column in REMOTE_MARKERS}
    return _spooled(recipient_list_upload_csv(recipient_list=obj, columns=columns)), mapping


def _figure(value) -> int | None:
    """A count from an answer, or None if it is missing or not a count."""
    value = to_int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _record_counts(obj, *, accepted, wrong, expected: int) -> None:
    counts = {"remote_accepted": accepted, "remote_wrong": wrong, "remote_expected": expected}
    type(obj).objects.filter(pk=obj.pk).update(**counts)
    for name, value in counts.items():
        setattr(obj, name, value)


def _file_counts(obj, result: dict) -> None:
    """A file import's answer. The file starts with a header row (safe whether MessageWhiz skips a
    first row or reads it as data); read as data, it is one row more in `total` and, not being a
    number, one more `wrong`: that one is not counted against the list."""
    expected = obj.recipients.count()
    wrong = _figure(result.get("wrong"))
    if wrong and _figure(result.get("total")) == expected + 1:
        wrong -= 1
    _record_counts(obj, accepted=_figure(result.get("inserted")), wrong=wrong, expected=expected)


def recipient_list_create_remote(client, obj):
    columns = recipient_list_columns(recipient_list=obj)
    if columns == ["phone_number"] and 0 < obj.recipient_count <= SMALL_LIST:
        numbers = list(obj.recipients.values_list("phone", flat=True))
        result = client.recipient_list_create(name=obj.name, numbers=numbers)
        _record_counts(obj, accepted=_figure(result.get("count", result.get("inserted"))),
                       wrong=_figure(result.get("wrong")), expected=len(numbers))
    else:
        doc, mapping = _recipient_upload(obj)
        with doc:
            result = client.recipient_list_import_file(name=obj.name, doc=doc, mapping=mapping, truncate=True,
                                                       filename=f"list-{obj.pk}.csv")
        _file_counts(obj, result)
    return {"id": result["recipient_list_id"]}


def recipient_list_update_remote(client, obj, previous: dict) -> None:
    renamed = obj.name != previous.get("name")
    if _fingerprint(obj.recipients)["content"] == previous.get("content"):
        if renamed:
            client.recipient_list_patch(obj.remote_id, name=obj.name)
        return
    added = _added_since(obj.recipients, previous)
    if added is not None and not added.filter(_HAS_REMOTE_FIELD).exists():
        wrong, result = 0, {}
        for batch in _batches(added):
            result = client.recipient_list_add_numbers(obj.remote_id, numbers=batch,
                                                       name=obj.name if renamed else None)
            wrong += _figure(result.get("wrong")) or 0
        # `count` is the list's size after the last batch: all of it, not just what was added.
        _record_counts(obj, accepted=_figure(result.get("count")), wrong=wrong, expected=obj.recipients.count())
        return
    doc, mapping = _recipient_upload(obj)
    with doc:
        result = client.recipient_list_replace_file(obj.remote_id, doc=doc, mapping=mapping, name=obj.name,
                                                    filename=f"list-{obj.pk}.csv")
    _file_counts(obj, result)


def list_counts_problem(obj) -> str:
    """Why MessageWhiz's list is not ours, by the figures its last answer gave, or ""."""
    accepted = obj.remote_accepted
    if not isinstance(accepted, int) or accepted == obj.remote_expected:
        return ""
    return f"{obj.remote_counts}: the list there does not hold what it holds here."


def recipient_list_after_pull(client, obj):
    """Fetch the list's recipients (MessageWhiz's /recipients); returns the load that replaces ours."""
    items = client.recipient_list_recipients(obj.remote_id)
    seen: set[int] = set()
    rows = (
        (phone, *(str(item.get(field) or "")[:limit] for field, limit in REMOTE_FIELDS.items()))
        for item in items
        if (phone := _new_phone(item.get("phone_number"), seen))
    )
    return _Pulled(stage_rows(rows, tuple(REMOTE_FIELDS)), "recipients")


def _unsubscribe_counts(obj, result: dict) -> None:
    """Unsubscribe answers give the list's size (`unsubscribers_amount`), no wrong count."""
    _record_counts(obj, accepted=_figure(result.get("unsubscribers_amount")), wrong=None,
                   expected=obj.numbers.count())


def unsubscribe_list_create_remote(client, obj):
    numbers = list(obj.numbers.values_list("phone", flat=True))
    if len(numbers) <= SMALL_LIST:
        result = client.unsubscribe_list_create(name=obj.name, numbers=numbers)
    else:
        with _spooled(unsubscribe_list_upload_csv(unsubscribe_list=obj)) as doc:
            result = client.unsubscribe_list_import_file(name=obj.name, doc=doc, mapping={"0": "phone_number"},
                                                         truncate=True, filename=f"unsubscribes-{obj.pk}.csv")
    _unsubscribe_counts(obj, result)
    return {"id": result["id"]}


def unsubscribe_list_update_remote(client, obj, previous: dict) -> None:
    if _fingerprint(obj.numbers)["content"] != previous.get("content"):
        added = _added_since(obj.numbers, previous)
        if added is not None:
            accepted, wrong = obj.remote_accepted, 0
            for batch in _batches(added):
                result = client.unsubscribe_list_add_numbers(obj.remote_id, numbers=batch)
                wrong += _figure(result.get("notValid")) or 0
                if isinstance(accepted, int):
                    accepted += (_figure(result.get("inserted")) or 0) + (_figure(result.get("alreadyExists")) or 0)
            _record_counts(obj, accepted=accepted, wrong=wrong, expected=obj.numbers.count())
        else:
            with _spooled(unsubscribe_list_upload_csv(unsubscribe_list=obj)) as doc:
                result = client.unsubscribe_list_replace_file(obj.remote_id, doc=doc, mapping={"0": "phone_number"},
                                                              filename=f"unsubscribes-{obj.pk}.csv")
            _unsubscribe_counts(obj, result)
    if obj.name != previous.get("name"):
        client.unsubscribe_list_patch(obj.remote_id, name=obj.name)


def unsubscribe_list_after_pull(client, obj):
    """Fetch the list's numbers (MessageWhiz's /members); returns the load that replaces ours."""
    items = client.unsubscribe_list_members(obj.remote_id)
    seen: set[int] = set()
    rows = (
        (phone,) for item in items
        if (phone := _new_phone(item.get("phone_number") if isinstance(item, dict) else item, seen))
    )
    return _Pulled(stage_rows(rows, ()), "unsubscribes")


def _new_phone(value, seen: set[int]) -> str | None:
    """A pulled number as stored here, or None if it isn't one or came already."""
    phone = to_phone(value)
    if not isinstance(phone, str) or not phone.isdigit() or len(phone) > PHONE_MAX or int(phone) in seen:
        return None
    seen.add(int(phone))
    return phone


@dataclass
class _Pulled:
    """A list's pulled members, staged; the pull saves them into the list, or not, then closes them."""

    staged: Staged
    kind: str

    def save(self, target) -> None:
        """Inside the pull's transaction for this list: its members become the staged ones."""
        model = list_model(self.kind)
        model.objects.select_for_update().filter(pk=target.pk).first()  # after a running import's load
        count = save_staged(self.staged, kind=self.kind, target=target, append=False, replace=True)
        counter = "recipient_count" if self.kind == "recipients" else "member_count"
        model.objects.filter(pk=target.pk).update(**{counter: count})
        setattr(target, counter, count)
        # Numbers MessageWhiz added (its own unsubscription links, its portal) reach the ledger too.
        consent_list_record(target=target, source=ConsentEvent.Source.IMPORT,
                            evidence={"pulled_from": "MessageWhiz", "remote_list": target.remote_id})

    def close(self) -> None:
        self.staged.close()


def _count(key):
    def from_remote(item: dict) -> dict:
        values = {"name": item["name"]} if "name" in item else {}
        if isinstance(item.get(key), int):
            values["recipient_count" if key == "count" else "member_count"] = item[key]
        return values

    return from_remote


register(
    MirrorResource(
        key="recipient_list", model=RecipientList, fields=("name",), read_only=("recipient_count",), order=30,
        from_remote=_count("count"), create_remote=recipient_list_create_remote,
        update_remote=recipient_list_update_remote, after_pull=recipient_list_after_pull,
        content_snapshot=lambda obj: _fingerprint(obj.recipients), check_remote=list_counts_problem,
    ),
    MirrorResource(
        key="unsubscribe_list", model=UnsubscribeList, fields=("name",), read_only=("member_count",), order=30,
        from_remote=_count("unsubscribers_amount"), create_remote=unsubscribe_list_create_remote,
        update_remote=unsubscribe_list_update_remote, after_pull=unsubscribe_list_after_pull,
        content_snapshot=lambda obj: _fingerprint(obj.numbers), check_remote=list_counts_problem,
    ),
)
