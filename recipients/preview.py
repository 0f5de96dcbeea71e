"""What the user sees before choosing a mapping: MessageWhiz's /preview, plus a suggestion."""

import os
from dataclasses import dataclass, field

from .mapping import LIMITS, suggest_mapping
from .phones import PhoneRejected, clean_phone
from .readers import open_table

PREVIEW_ROWS = 10


@dataclass
class Preview:
    data: list[list[str]]  # the first rows, header included, as in MessageWhiz's preview
    is_all_num: list[bool]
    exceeds_50: list[bool]
    exceeds_255: list[bool]
    exceeds_5000: list[bool]
    suggested_mapping: dict[str, str]
    columns: int
    rows: int  # rows with any content, header included
    kind: str
    data_rows: int = 0  # rows with any content below the header: what an import would read
    sheet_names: list[str] = field(default_factory=list)
    sheet: str = ""
    encoding: str = ""
    delimiter: str = ""

    def as_messagewhiz(self) -> dict:
        """The `result` of MessageWhiz's preview endpoint."""
        return {
            "data": self.data,
            "isAllNum": self.is_all_num,
            "isExceedLength50": self.exceeds_50,
            "isExceedLength255": self.exceeds_255,
            "isExceedLength5000": self.exceeds_5000,
        }


def preview_file(
    path: str | os.PathLike,
    *,
    sheet: str | int | None = None,
    has_header: bool = True,
    rows: int = PREVIEW_ROWS,
) -> Preview:
    """The first `rows` rows, and column flags computed over the whole file.

    The flags cover every row (not just those shown) because they exist to tell the user,
    before importing, whether a column will need truncating. A column is "all numeric" when
    every non-empty value below the header is a phone-like number (digits, optionally with '+'
    and spaces, dashes, dots or brackets).
    """
    table = open_table(path, sheet=sheet)
    data: list[list[str]] = []
    longest: list[int] = []
    numeric: list[bool | None] = []  # None: no value seen yet
    count = 0
    header = None
    for _number, row in table.rows():
        if not any(row):
            continue
        count += 1
        if len(data) < rows:
            data.append(row)
        if has_header and header is None:
            header = row
            _widen(longest, numeric, len(row))
            continue
        if len(row) > len(longest):
            _widen(longest, numeric, len(row))
        for index, value in enumerate(row):
            if not value:
                continue
            if len(value) > longest[index]:
                longest[index] = len(value)
            if numeric[index] is not False:
                numeric[index] = _is_numeric(value)
    flags = [bool(flag) for flag in numeric]
    return Preview(
        data=data,
        is_all_num=flags,
        exceeds_50=[length > LIMITS["first_name"] for length in longest],
        exceeds_255=[length > LIMITS["email"] for length in longest],
        exceeds_5000=[length > LIMITS["custom"] for length in longest],
        suggested_mapping=suggest_mapping(header, flags),
        columns=len(longest),
        rows=count,
        kind=table.kind,
        data_rows=count - 1 if header is not None else count,
        sheet_names=table.sheet_names,
        sheet=table.sheet,
        encoding=table.encoding,
        delimiter=table.delimiter,
    )


def _widen(longest: list[int], numeric: list, width: int) -> None:
    missing = width - len(longest)
    if missing > 0:
        longest.extend([0] * missing)
        numeric.extend([None] * missing)


def _is_numeric(value: str) -> bool:
    if value.isdigit():
        return True
    try:
        clean_phone(value)
    except PhoneRejected:
        return False
    return True
