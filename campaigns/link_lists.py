"""Filling link lists from a file (name/url columns) or a pasted batch of new links.

New links are created locally as PENDING and attached to the list; the list's push then creates
them in MessageWhiz in one request (links/bulk) and records their ids (see campaigns.mirrors).
"""

import os
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from messaging.sync.push import mirror_changed
from recipients.errors import ImportProblem, MappingError
from recipients.readers import open_table

from .models import Link, LinkList

MARKERS = {"name", "url"}
MAX_LINKS = 10_000
_valid_url = URLValidator()


@dataclass
class LinkImportResult:
    link_list: LinkList
    inserted: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (row, value, reason)


def parse_mapping(mapping: dict) -> dict[str, int]:
    """{"0": "name", "1": "url"} → {"name": 0, "url": 1}, refusing anything else."""
    columns = {}
    for column, marker in mapping.items():
        if marker in ("", "ignore", None):
            continue
        if marker not in MARKERS:
            raise MappingError(f"Column {int(column) + 1}: “{marker}” is not a link column; use name or url.")
        if marker in columns:
            raise MappingError(f"Two columns are marked “{marker}”.")
        columns[marker] = int(column)
    if "url" not in columns:
        raise MappingError("Mark the column that holds the URLs.")
    return columns


def link_list_import(*, account, path: str | os.PathLike, mapping: dict, name: str = "",
                     link_list: LinkList | None = None, sheet=None, has_header: bool = True) -> LinkImportResult:
    """Read name/url rows, keep the valid ones, and add them to `link_list` (or a new list `name`)."""
    columns = parse_mapping(mapping)
    table = open_table(path, sheet=sheet)
    links, result = [], LinkImportResult(link_list=link_list)
    for number, cells in table.rows():
        if has_header and number == 1:
            continue
        url = cells[columns["url"]].strip() if columns["url"] < len(cells) else ""
        label = cells[columns["name"]].strip() if "name" in columns and columns["name"] < len(cells) else ""
        problem = link_problem(url)
        if problem:
            if any(cells):
                result.rejected.append((number, url, problem))
            continue
        links.append((label or url, url))
        if len(links) > MAX_LINKS:
            raise ImportProblem(f"A link list holds at most {MAX_LINKS:,} links.")
    if not links:
        raise ImportProblem("The file has no valid links." + (f" First problem: row {result.rejected[0][0]}: "
                                                              f"{result.rejected[0][2]}." if result.rejected else ""))
    result.link_list = link_list_add_new_links(account=account, links=links, link_list=link_list, name=name)
    result.inserted = len(links)
    return result


def link_problem(url: str) -> str:
    if not url:
        return "no URL"
    if len(url) > 2048:
        return "URL longer than 2048 characters"
    try:
        _valid_url(url)
    except ValidationError:
        return "not a valid URL (it must start with http:// or https://)"
    return ""


def link_list_add_new_links(*, account, links: list[tuple[str, str]], link_list: LinkList | None = None,
                            name: str = "") -> LinkList:
    """Create `links` [(name, url)] and add them to the list in one transaction; the push follows."""
    with transaction.atomic():
        if link_list is None:
            link_list = LinkList(account=account, name=name or "Imported links")
            mirror_changed(link_list)
        # PENDING, with the list's push (queued below) due now: it creates them, not a push per link.
        now = timezone.now()
        created = Link.objects.bulk_create(Link(account=account, name=label[:255], url=url, next_push_at=now)
                                           for label, url in links)
        link_list.links.add(*created)
        mirror_changed(link_list)
    return link_list
