"""The import engine: rows from a file (or pasted text) into a recipient or unsubscribe list.

An import runs in two phases, and only the second touches the list:

1. Read — outside any transaction. Stream the rows; normalise and validate each phone; drop
   duplicates (within the file, and against the list when appending) with a set of ints;
   check field limits; stage accepted rows in temporary files, in PostgreSQL's COPY text
   format (see `Staged`), and rejected ones in the report. Every PROGRESS_EVERY rows the
   ImportJob row gets a plain autocommitted UPDATE, so the page polling it sees progress at
   once. Holding a transaction open here would hide that progress on PostgreSQL (or force a
   second connection), and on SQLite would hold the database's single write lock for the
   whole read, blocking every other writer (and the progress update itself) meanwhile.
2. Save — one transaction. Lock the list row (or create the list), delete its members on
   replace, load the staged rows (PostgreSQL: COPY; SQLite: executemany in large batches),
   update the list's counter and the job's result. Any failure rolls all of it back, so the
   list is exactly as it was; the job is then marked failed outside the transaction.

Refusals found while reading (over-long fields without truncate, an unreadable file) end the
import before phase 2, so a refused import never writes to the list either.
"""

import csv
import heapq
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter

from django.db import connection, transaction

from messaging.spreadsheets import neutralise

from .errors import FileRejected, LimitsExceeded, MappingError
from .mapping import LIMITS, PHONE, parse_mapping
from .models import Recipient, RecipientList, UnsubscribeList, UnsubscribeNumber
from .phones import PhoneNormalizer, PhoneRejected

PROGRESS_EVERY = 20_000
# Accepted rows are staged as sorted runs of this many lines (~25 MB in memory while sorting).
RUN_ROWS = 200_000
_BLOCK_LINES = 10_000
_SQLITE_BATCH = 10_000
# The message lists this many offending fields; the report lists all of them.
_LIMITS_IN_MESSAGE = 10
_REPORT_VALUE_CHARS = 200

_IN_FILE = "duplicate: repeats row {row}"
_IN_LIST = "duplicate: already in the list"


# Staging columns, in order, per marker (the phone comes first).
RECIPIENT_COLUMNS = ("first_name", "last_name", "email", "url", "custom", "custom1", "custom2", "custom3",
                     "custom4", "timezone")


@dataclass
class ImportSettings:
    mapping: dict[int, str]  # from mapping.parse_mapping
    truncate: bool = False
    default_country: str | None = None
    has_header: bool = True


@dataclass
class ImportResult:
    """The outcome in MessageWhiz's vocabulary; total = inserted + wrong + duplicate."""

    inserted: int = 0
    total: int = 0
    wrong: int = 0
    duplicate: int = 0
    list_id: int | None = None
    # Custom columns' token names from the header ({"custom1": "city"}; see column_token_names).
    column_names: dict[str, str] = field(default_factory=dict)
    # For small synchronous imports (pasted numbers): the first rejected values and why.
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"inserted": self.inserted, "total": self.total, "wrong": self.wrong, "duplicate": self.duplicate}


class Report:
    """The rejected-rows report: a CSV of row, column, value, reason, built on disk.

    Written for opening in Excel: UTF-8 with a byte order mark, values neutralised like exports'.
    """

    HEADER = ("row", "column", "value", "reason")

    def __init__(self, keep: int = 0):
        # Binary underneath, so that saving it copies the bytes as they are (BOM included).
        self.file = tempfile.TemporaryFile()  # noqa: SIM115
        self._text = io.TextIOWrapper(self.file, encoding="utf-8-sig", newline="", write_through=True)
        self.writer = csv.writer(self._text)
        self.writer.writerow(self.HEADER)
        self.count = 0
        self.keep = keep
        self.kept: list[tuple[str, str]] = []

    def add(self, row: int, column: str, value: str, reason: str) -> None:
        self.count += 1
        if len(value) > _REPORT_VALUE_CHARS:
            value = value[:_REPORT_VALUE_CHARS] + "…"
        self.writer.writerow((row, column, neutralise(value), reason))
        if len(self.kept) < self.keep:
            self.kept.append((value, reason))

    def close(self) -> None:
        self._text.close()


class Staged:
    """Phase 1's output: the accepted rows, in COPY text format, sorted by phone, and the counts.

    Sorted because the load then appends to the (list, phone) index in key order instead of
    inserting all over it: on PostgreSQL that halves the COPY of a million rows (far fewer page
    splits, and far fewer full-page images in the WAL after a checkpoint). Rows are sorted in
    runs of RUN_ROWS written to temporary files and merged while loading, so memory stays
    bounded whatever the file size, and the merge (Python) overlaps the COPY (the server).
    """

    def __init__(self, columns: tuple[str, ...]):
        self.columns = columns  # after the phone
        self.header: list[str] = []  # the file's header row, when it has one
        self.runs: list = []
        self.total = self.wrong = self.duplicate = self.accepted = 0

    def add_run(self, lines: list[str]) -> None:
        lines.sort()
        run = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        self.runs.append(run)
        run.write("\n".join(lines))
        run.write("\n")
        run.flush()

    def lines(self) -> Iterator[str]:
        """Every staged line, newline included, in phone order."""
        for run in self.runs:
            run.seek(0)
        return iter(self.runs[0]) if len(self.runs) == 1 else heapq.merge(*self.runs)

    def blocks(self, prefix: str = "") -> Iterator[str]:
        """The lines in blocks of _BLOCK_LINES, each line starting with `prefix`."""
        lines = self.lines()
        while batch := list(islice(lines, _BLOCK_LINES)):
            block = "".join(batch)
            yield prefix + block[:-1].replace("\n", "\n" + prefix) + "\n" if prefix else block

    def rows(self, list_id: int) -> Iterator[tuple]:
        for line in self.lines():
            values = line[:-1].split("\t")
            if "\\" in line:
                values = [_unescape(value) for value in values]
            yield (list_id, *values)

    def close(self) -> None:
        for run in self.runs:
            run.close()
        self.runs = []


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_COPY_UNESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(value: str) -> str:
    return _COPY_UNESCAPE.sub(lambda match: _UNESCAPED[match.group(1)], value)


def stage_rows(rows: Iterable[tuple[str, ...]], columns: tuple[str, ...]) -> Staged:
    """Stage rows that need no checking (phone first, then `columns`; phones unique), such as a
    list pulled from MessageWhiz, for `save_staged`."""
    staged = Staged(columns)
    lines: list[str] = []
    for row in rows:
        lines.append("\t".join(value.translate(_COPY_ESCAPES) for value in row))
        staged.accepted += 1
        if len(lines) >= RUN_ROWS:
            staged.add_run(lines)
            lines = []
    if lines:
        staged.add_run(lines)
    staged.total = staged.accepted
    return staged


def read_rows(
    rows: Iterable[tuple[int, list[str]]],
    *,
    settings: ImportSettings,
    kind: str,
    report: Report,
    existing: set[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Staged:
    """Phase 1: validate, de-duplicate and stage the rows. Writes nothing to the database.

    Raises LimitsExceeded (after reading everything, so the report lists every offending field)
    when a field is over its limit and truncation is off; MappingError when a mapped column is
    beyond every row (the preview's column count covers every row too); FileRejected when there
    is nothing to import.
    """
    mapping = settings.mapping
    phone_index = next(index for index, marker in mapping.items() if marker == PHONE)
    if kind == "recipients":
        wanted = {marker: index for index, marker in mapping.items() if marker != PHONE}
        columns = tuple(marker for marker in RECIPIENT_COLUMNS if marker in wanted)
        extras = [(wanted[marker], LIMITS[marker], marker) for marker in columns]
    else:
        columns, extras = (), []  # unsubscribe lists keep numbers only
    if extras:
        indexes = [index for index, _limit, _marker in extras]
        pick = itemgetter(*indexes) if len(indexes) > 1 else (lambda row, index=indexes[0]: (row[index],))
        min_width = max(indexes) + 1
        shortest = min(limit for _index, limit, _marker in extras)
        separators = len(extras) - 1
    normalize = PhoneNormalizer(settings.default_country)
    truncate = settings.truncate
    # Numbers already in the list (the caller's set, not copied: it can hold millions), and each
    # number of the file with the row it is first on, so a repeat names the row it repeats.
    in_list: set[int] = existing if existing is not None else set()
    first_rows: dict[int, int] = {}
    staged = Staged(columns)
    lines: list[str] = []
    too_long = 0
    limit_examples: list[str] = []
    total = wrong = duplicate = 0
    widest = 0
    header_pending = settings.has_header
    next_progress = PROGRESS_EVERY

    for number, row in rows:
        if not any(row):
            continue  # blank lines don't count, as in a spreadsheet
        if len(row) > widest:
            widest = len(row)
        if header_pending:
            header_pending = False
            staged.header = row
            continue
        total += 1
        if total >= next_progress:
            next_progress += PROGRESS_EVERY
            if progress is not None:
                progress(total)
        raw = row[phone_index] if phone_index < len(row) else ""
        try:
            phone = normalize(raw)
        except PhoneRejected as exc:
            wrong += 1
            report.add(number, PHONE, raw, str(exc))
            continue
        key = int(phone)
        first = first_rows.get(key)
        if first is not None or key in in_list:
            duplicate += 1
            report.add(number, PHONE, raw, _IN_LIST if first is None else _IN_FILE.format(row=first))
            continue
        first_rows[key] = number
        if not extras:
            lines.append(phone)
        else:
            # The common row needs no escaping, cutting or refusing: all its fields together
            # fit the smallest limit and hold no tab, newline or backslash.
            rest = "\t".join(map(str.strip, pick(row))) if len(row) >= min_width else None
            if (
                rest is not None
                and len(rest) <= shortest
                and rest.count("\t") == separators
                and "\\" not in rest
                and "\n" not in rest
                and "\r" not in rest
            ):
                lines.append(phone + "\t" + rest)
            else:
                values = [phone]
                for index, limit, marker in extras:
                    value = row[index].strip() if index < len(row) else ""
                    if len(value) > limit:
                        if truncate:
                            value = value[:limit].rstrip()
                        else:
                            too_long += 1
                            report.add(number, marker, value, f"{len(value)} characters; the limit is {limit}")
                            if len(limit_examples) < _LIMITS_IN_MESSAGE:
                                limit_examples.append(f"row {number} {marker} ({len(value)} characters)")
                    values.append(value.translate(_COPY_ESCAPES))
                lines.append("\t".join(values))
        if len(lines) >= RUN_ROWS:
            if not too_long:  # a refused import needs its report, not its rows
                staged.add_run(lines)
            lines = []
    if lines and not too_long:
        staged.add_run(lines)
    if progress is not None:
        progress(total)

    staged.total, staged.wrong, staged.duplicate = total, wrong, duplicate
    staged.accepted = total - wrong - duplicate
    if widest:
        try:
            parse_mapping(mapping, columns=widest)
        except MappingError:
            staged.close()
            raise
    if too_long:
        staged.close()
        raise LimitsExceeded(_limits_message(too_long, limit_examples))
    if total == 0:
        staged.close()
        if settings.has_header and not header_pending:
            raise FileRejected("The file has a header row but no rows of numbers below it.")
        raise FileRejected("The file has no rows.")
    return staged


def _limits_message(count: int, examples: list[str]) -> str:
    more = f", and {count - len(examples)} more" if count > len(examples) else ""
    return (
        f"{count} field{'s are' if count != 1 else ' is'} longer than MessageWhiz allows "
        f"(first/last name 50 characters, email/url 255, others 5000): {'; '.join(examples)}{more}. "
        "Nothing was imported. Shorten them, or import again with truncation on."
    )


# --- Phase 2 ----------------------------------------------------------------------------------


def _member_table(kind: str):
    if kind == "recipients":
        return Recipient, "recipient_list_id"
    return UnsubscribeNumber, "unsubscribe_list_id"


def save_staged(staged: Staged, *, kind: str, target, append: bool, replace: bool) -> int:
    """Phase 2's load, inside the caller's transaction: returns how many rows were inserted.

    `append` loads around numbers already in the list (ON CONFLICT DO NOTHING: phase 1 read
    the list without a lock, so a number added since then must be skipped, not fail the load).
    """
    model, list_column = _member_table(kind)
    table = model._meta.db_table
    qn = connection.ops.quote_name
    columns = [list_column, "phone", *staged.columns]
    column_sql = ", ".join(qn(column) for column in columns)
    with connection.cursor() as cursor:
        if replace:
            cursor.execute(f"DELETE FROM {qn(table)} WHERE {qn(list_column)} = %s", [target.pk])  # noqa: S608
        if not staged.accepted:
            return 0
        if connection.vendor == "postgresql":
            return _copy_postgresql(cursor.cursor, staged, table, column_sql, target.pk, append, qn)
        return _insert_batches(cursor, staged, table, column_sql, len(columns), target.pk, append)


def _copy_postgresql(cursor, staged, table, column_sql, list_id, append, qn) -> int:
    prefix = f"{list_id}\t"
    if not append:
        # New or just emptied list, rows already unique: straight into the table.
        with cursor.copy(f"COPY {qn(table)} ({column_sql}) FROM STDIN") as copy:
            for block in staged.blocks(prefix):
                copy.write(block)
        return staged.accepted
    stage = "recipients_import_stage"
    cursor.execute(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {column_sql} FROM {qn(table)} WITH NO DATA"
    )
    with cursor.copy(f"COPY {stage} ({column_sql}) FROM STDIN") as copy:
        for block in staged.blocks(prefix):
            copy.write(block)
    cursor.execute(
        f"INSERT INTO {qn(table)} ({column_sql}) SELECT {column_sql} FROM {stage} "  # noqa: S608
        "ON CONFLICT DO NOTHING"
    )
    inserted = cursor.rowcount
    cursor.execute(f"DROP TABLE {stage}")
    return inserted


def _insert_batches(cursor, staged, table, column_sql, width, list_id, append) -> int:
    placeholders = ", ".join(["%s"] * width)
    conflict = " ON CONFLICT DO NOTHING" if append else ""
    sql = f"INSERT INTO {connection.ops.quote_name(table)} ({column_sql}) VALUES ({placeholders}){conflict}"  # noqa: S608
    inserted = 0
    batch = []
    for row in staged.rows(list_id):
        batch.append(row)
        if len(batch) >= _SQLITE_BATCH:
            cursor.executemany(sql, batch)
            inserted += cursor.rowcount
            batch.clear()
    if batch:
        cursor.executemany(sql, batch)
        inserted += cursor.rowcount
    return inserted


# The columns a file's header can name: MessageWhiz fills only {{custom}} … {{custom4}} by name.
CUSTOM_COLUMNS = ("custom", "custom1", "custom2", "custom3", "custom4")
_NOT_TOKEN = re.compile(r"[^a-z0-9]+")


def column_token_names(mapping: dict[int, str], header: list[str]) -> dict[str, str]:
    """{"custom1": "city"} for custom columns whose header makes a token name ("City" → city,
    "Home town" → home_town). Headers that make no name, or a field's own, are left out (compose
    also ignores names of its other tokens)."""
    names = {}
    for index, marker in mapping.items():
        if marker not in CUSTOM_COLUMNS or index >= len(header):
            continue
        name = _NOT_TOKEN.sub("_", header[index].strip().lower()).strip("_")
        if name and name[0].isalpha() and name not in (*RECIPIENT_COLUMNS, PHONE, "phone", "gender"):
            names[marker] = name[:40]
    return names


def existing_phones(kind: str, target) -> set[int]:
    """The list's numbers as ints (a set of a million ints is ~60 MB; strings would be ~2x)."""
    model, list_column = _member_table(kind)
    phones = model.objects.filter(**{list_column: target.pk}).values_list("phone", flat=True)
    return set(map(int, phones.iterator(chunk_size=20_000)))


def list_model(kind: str):
    return RecipientList if kind == "recipients" else UnsubscribeList


def run_import(
    rows: Iterable[tuple[int, list[str]]],
    *,
    settings: ImportSettings,
    kind: str,
    mode: str,
    report: Report,
    target=None,
    create: Callable[[], object] | None = None,
    progress: Callable[[int], None] | None = None,
    before_save: Callable[[], None] | None = None,
    on_saved: Callable[[object, ImportResult], None] | None = None,
) -> ImportResult:
    """Both phases. `target` is the list for append/replace; `create()` makes it for new.

    `before_save` runs between the phases (outside the transaction); `on_saved(list, result)`
    runs inside the transaction, after the load, so it commits or rolls back with it.
    """
    append, replace = mode == "append", mode == "replace"
    existing = existing_phones(kind, target) if append else None
    staged = read_rows(rows, settings=settings, kind=kind, report=report, existing=existing, progress=progress)
    try:
        if before_save is not None:
            before_save()
        with transaction.atomic():
            # Lock the list: concurrent imports into one list load one after the other.
            lists = list_model(kind).objects.select_for_update()
            target = create() if target is None else lists.get(pk=target.pk)
            inserted = save_staged(staged, kind=kind, target=target, append=append, replace=replace)
            result = ImportResult(
                inserted=inserted,
                total=staged.total,
                wrong=staged.wrong,
                duplicate=staged.total - staged.wrong - inserted,
                list_id=target.pk,
                column_names=column_token_names(settings.mapping, staged.header) if kind == "recipients" else {},
                rejected=report.kept,
            )
            if on_saved is not None:
                on_saved(target, result)
    finally:
        staged.close()
    return result
