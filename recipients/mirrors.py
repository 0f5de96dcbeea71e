"""Recipient and unsubscribe lists as mirrored resources.

Their content is a file of recipients rather than fields, so they plug their own create and
update into the sync machinery: a new list is uploaded (MessageWhiz's file import with a
`mapping`; small phone-only lists go as `numbers`), a changed list is replaced whole (the
reference's PUT), a renamed one is PATCHed. The content fingerprint in the snapshot — member
count and highest member id — changes with every append, replace or removal.
"""

import tempfile

from django.db import transaction
from django.db.models import Count, Max

from messaging.messagewhiz.parsing import to_phone
from messaging.sync.resources import MirrorResource, register

from .exports import recipient_list_columns, recipient_list_export_csv, unsubscribe_list_export_csv
from .models import Recipient, RecipientList, UnsubscribeList, UnsubscribeNumber

# MessageWhiz's markers; custom1..custom4 exist only here, so they stay out of the upload mapping.
REMOTE_MARKERS = {"phone_number", "first_name", "last_name", "email", "url", "custom"}
SMALL_LIST = 1000  # up to this many phone-only numbers go as JSON `numbers` instead of a file


def _fingerprint(members) -> dict:
    figures = members.aggregate(count=Count("pk"), last=Max("pk"))
    return {"content": [figures["count"], figures["last"]]}


def _spooled(chunks):
    stream = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the caller closes it
    for chunk in chunks:
        stream.write(chunk)
    stream.seek(0)
    return stream


def _recipient_upload(obj):
    columns = recipient_list_columns(recipient_list=obj)
    mapping = {str(i): column for i, column in enumerate(columns) if column in REMOTE_MARKERS}
    return _spooled(recipient_list_export_csv(recipient_list=obj, columns=columns)), mapping


def recipient_list_create_remote(client, obj):
    columns = recipient_list_columns(recipient_list=obj)
    if columns == ["phone_number"] and 0 < obj.recipient_count <= SMALL_LIST:
        numbers = list(obj.recipients.values_list("phone", flat=True))
        result = client.recipient_list_create(name=obj.name, numbers=numbers)
    else:
        doc, mapping = _recipient_upload(obj)
        with doc:
            result = client.recipient_list_import_file(name=obj.name, doc=doc, mapping=mapping, truncate=True,
                                                       filename=f"list-{obj.pk}.csv")
    return {"id": result["recipient_list_id"]}


def recipient_list_update_remote(client, obj, previous: dict) -> None:
    if _fingerprint(obj.recipients)["content"] != previous.get("content"):
        doc, mapping = _recipient_upload(obj)
        with doc:
            client.recipient_list_replace_file(obj.remote_id, doc=doc, mapping=mapping, name=obj.name,
                                               filename=f"list-{obj.pk}.csv")
    elif obj.name != previous.get("name"):
        client.recipient_list_patch(obj.remote_id, name=obj.name)


def recipient_list_after_pull(client, obj) -> None:
    """Bring the list's recipients in: MessageWhiz's /recipients, replacing ours."""
    rows = []
    for item in client.recipient_list_recipients(obj.remote_id):
        phone = to_phone(item.get("phone_number"))
        if isinstance(phone, str) and phone.isdigit():
            rows.append(Recipient(recipient_list=obj, phone=phone, **{
                field: str(item.get(field) or "")[:limit] for field, limit in
                (("first_name", 50), ("last_name", 50), ("email", 255), ("url", 255), ("custom", 5000))}))
    with transaction.atomic():
        RecipientList.objects.select_for_update().filter(pk=obj.pk).first()  # wait for a running import's load
        obj.recipients.all().delete()
        Recipient.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
        RecipientList.objects.filter(pk=obj.pk).update(recipient_count=obj.recipients.count())


def unsubscribe_list_create_remote(client, obj):
    numbers = list(obj.numbers.values_list("phone", flat=True))
    if len(numbers) <= SMALL_LIST:
        result = client.unsubscribe_list_create(name=obj.name, numbers=numbers)
    else:
        with _spooled(unsubscribe_list_export_csv(unsubscribe_list=obj)) as doc:
            result = client.unsubscribe_list_import_file(name=obj.name, doc=doc, mapping={"0": "phone_number"},
                                                         truncate=True, filename=f"unsubscribes-{obj.pk}.csv")
    return {"id": result["id"]}


def unsubscribe_list_update_remote(client, obj, previous: dict) -> None:
    if _fingerprint(obj.numbers)["content"] != previous.get("content"):
        with _spooled(unsubscribe_list_export_csv(unsubscribe_list=obj)) as doc:
            client.unsubscribe_list_replace_file(obj.remote_id, doc=doc, mapping={"0": "phone_number"},
                                                 filename=f"unsubscribes-{obj.pk}.csv")
    if obj.name != previous.get("name"):
        client.unsubscribe_list_patch(obj.remote_id, name=obj.name)


def unsubscribe_list_after_pull(client, obj) -> None:
    numbers = set()
    for item in client.unsubscribe_list_members(obj.remote_id):
        phone = to_phone(item.get("phone_number") if isinstance(item, dict) else item)
        if isinstance(phone, str) and phone.isdigit():
            numbers.add(phone)
    with transaction.atomic():
        UnsubscribeList.objects.select_for_update().filter(pk=obj.pk).first()
        obj.numbers.all().delete()
        UnsubscribeNumber.objects.bulk_create((UnsubscribeNumber(unsubscribe_list=obj, phone=p) for p in numbers),
                                              batch_size=5000)
        UnsubscribeList.objects.filter(pk=obj.pk).update(member_count=len(numbers))


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
        content_snapshot=lambda obj: _fingerprint(obj.recipients),
    ),
    MirrorResource(
        key="unsubscribe_list", model=UnsubscribeList, fields=("name",), read_only=("member_count",), order=30,
        from_remote=_count("unsubscribers_amount"), create_remote=unsubscribe_list_create_remote,
        update_remote=unsubscribe_list_update_remote, after_pull=unsubscribe_list_after_pull,
        content_snapshot=lambda obj: _fingerprint(obj.numbers),
    ),
)
