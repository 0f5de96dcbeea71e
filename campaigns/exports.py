"""A broadcast's messages as a download (CSV or XLSX): who got what, from which sender, and what
became of it.

The text is the message as Textcast renders it for the recipient (the review page's rendering:
MessageWhiz's short links are a placeholder of the same length). Recipients' fields are read per
chunk of messages by (list, phone), never a whole list at once.

XLSX cells are typed: prices are numbers and times are Excel dates in the site's time zone
(Excel has no zones: the header names it). CSV keeps ISO 8601 times with their offset.
"""

import csv
import tempfile
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from itertools import islice

from django.utils import timezone

from messaging.spreadsheets import neutralise
from recipients.selectors import recipients_by_phone

from . import rendering
from .estimates import RECIPIENT_FIELDS, broadcast_body, token_objects
from .models import Broadcast

MESSAGE_FIELDS = ("phone", "status", "client_ref", "provider_message_id", "parts", "price", "clicks", "error",
                  "submitted_at", "status_at", "country")
# Every price beside its currency (the account's): a bare number is no amount.
EXPORT_COLUMNS = ("phone", "name", "sender", "text", *MESSAGE_FIELDS[1:6], "currency", *MESSAGE_FIELDS[6:])
_CHUNK = 5000


def broadcast_export_rows(broadcast: Broadcast, messages) -> Iterator[list]:
    """One list per message in EXPORT_COLUMNS order, with raw values (str, int, Decimal, aware
    datetime, None) for the writers below."""
    objects = token_objects(broadcast.account)
    render = rendering.compile(broadcast_body(broadcast), context=rendering.RenderContext(spinners=objects["spinners"]))
    # MessageWhiz rotates the chosen senders (and those of sender lists) over the recipients.
    senders = [*broadcast.senders.values_list("name", flat=True),
               *broadcast.sender_lists.values_list("senders__name", flat=True)]
    sender = ", ".join(dict.fromkeys(name for name in senders if name))
    list_ids = list(broadcast.recipient_lists.values_list("pk", flat=True))
    currency = broadcast.account.currency
    rows = messages.values_list(*MESSAGE_FIELDS).iterator(chunk_size=_CHUNK)
    while chunk := list(islice(rows, _CHUNK)):
        people = recipients_by_phone(recipient_list_ids=list_ids, phones=[row[0] for row in chunk],
                                     fields=RECIPIENT_FIELDS) if list_ids else {}
        for phone, *rest in chunk:
            person = people.get(phone) or {"phone": phone}
            name = " ".join(part for part in (person.get("first_name"), person.get("last_name")) if part)
            yield [phone, name, sender, render(person), *rest[:5], currency, *rest[5:]]


class _Echo:
    def write(self, value):
        return value


def export_csv(rows, columns=EXPORT_COLUMNS) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(columns)  # BOM: Excel then reads UTF-8 correctly
    for row in rows:
        yield writer.writerow([_csv_cell(value) for value in row])


def export_xlsx(rows, columns=EXPORT_COLUMNS, sheet_name="Messages"):
    """The workbook in a temporary file (streamed from there), not in memory: a million rows make
    tens of megabytes."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    zone = timezone.get_current_timezone_name()
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append([f"{name} ({zone})" if name.endswith("_at") else name for name in columns])

    def cell(value):
        if isinstance(value, str):
            # Control characters other than tab and newlines can't be stored in the file.
            return ILLEGAL_CHARACTERS_RE.sub("", neutralise(value))
        if isinstance(value, datetime):  # Excel's dates have no zone: the site's wall-clock time
            return timezone.localtime(value).replace(tzinfo=None)
        if value is None or isinstance(value, int | float | Decimal):  # prices stay numbers
            return value
        return str(value)  # the client_ref's UUID

    for row in rows:
        sheet.append([cell(value) for value in row])
    output = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it when sent
    book.save(output)
    output.seek(0)
    return output


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
