"""Reads of recipient and unsubscribe lists."""

import csv
import io
from itertools import islice

from django.db.models import Exists, Min, OuterRef, QuerySet

from .models import ImportJob, Recipient, RecipientList, UnsubscribeList, UnsubscribeNumber


def recipient_list_members(*, recipient_list: RecipientList) -> QuerySet[Recipient]:
    return Recipient.objects.filter(recipient_list=recipient_list).order_by("id")


def unsubscribe_list_members(*, unsubscribe_list: UnsubscribeList) -> QuerySet[str]:
    """The list's phone numbers (MessageWhiz's /members)."""
    return (
        UnsubscribeNumber.objects.filter(unsubscribe_list=unsubscribe_list)
        .order_by("id")
        .values_list("phone", flat=True)
    )


def recipients_for_send(
    *, recipient_list_ids: list[int], unsubscribe_list_ids: list[int] | None = None
) -> QuerySet[Recipient]:
    """Who a broadcast to these lists reaches: one recipient per phone, minus unsubscribed ones.

    Unsubscribe lists are applied here, at send time, not at import: a number unsubscribed
    after its list was imported must still be left out. A phone in several lists counts once,
    with the fields of its first-added row. The SQL is an anti-join (NOT EXISTS, served by the
    unsubscribe table's (list, phone) index) inside a GROUP BY phone, so it stays one query
    whatever the list sizes; iterate it with `.iterator(chunk_size=…)`.
    """
    members = Recipient.objects.filter(recipient_list_id__in=recipient_list_ids)
    if unsubscribe_list_ids:
        unsubscribed = UnsubscribeNumber.objects.filter(
            unsubscribe_list_id__in=unsubscribe_list_ids, phone=OuterRef("phone")
        )
        members = members.filter(~Exists(unsubscribed))
    first_per_phone = members.values("phone").annotate(first=Min("id")).values("first")
    return Recipient.objects.filter(id__in=first_per_phone).order_by("id")


def recipients_for_send_count(*, recipient_list_ids: list[int], unsubscribe_list_ids: list[int] | None = None) -> int:
    return recipients_for_send(
        recipient_list_ids=recipient_list_ids, unsubscribe_list_ids=unsubscribe_list_ids
    ).count()


def import_job_progress(*, job_id: int) -> dict:
    """What a progress page polls: a small dict, one indexed row read."""
    job = ImportJob.objects.get(pk=job_id)
    return {
        "status": job.status,
        "stage": job.stage,
        "stage_label": job.get_stage_display(),  # the page's words for it, from the model's choices
        "rows_done": job.rows_done,
        "rows_estimated": job.rows_estimated,
        "progress": job.progress,
        "result": job.result,
        "error": job.error,
        "rejects_count": job.rejects_count,
    }


def column_tokens(*, recipient_list_ids: list[int]) -> dict[str, set[str]]:
    """Token names the lists' imported headers gave their custom columns → the columns they name
    ({"city": {"custom1"}}; two columns when the lists disagree)."""
    tokens: dict[str, set[str]] = {}
    for names in RecipientList.objects.filter(pk__in=recipient_list_ids).values_list("column_names", flat=True):
        for column, name in names.items():
            tokens.setdefault(name, set()).add(column)
    return tokens


def recipients_by_phone(*, recipient_list_ids: list[int], phones: list[str], fields: tuple[str, ...]) -> dict:
    """phone → the fields of its first-added row in the lists (as recipients_for_send picks), for a
    chunk of phones: one query served by the (list, phone) index."""
    found: dict[str, dict] = {}
    rows = Recipient.objects.filter(recipient_list_id__in=recipient_list_ids, phone__in=phones).order_by("id")
    for row in rows.values(*fields):
        found.setdefault(row["phone"], row)
    return found


REJECTED_ON_PAGE = 100


def import_job_rejected_rows(*, job: ImportJob, limit: int = REJECTED_ON_PAGE) -> list[dict]:
    """The first `limit` rows of the job's rejected-rows report (row, column, value, reason), as
    the import page lists them; the download has all of them."""
    if not job.rejects_count or not job.rejects:
        return []
    with job.rejects.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        return list(islice(csv.DictReader(text), limit))


def phones_for_send(*, recipient_list_ids: list[int], unsubscribe_list_ids: list[int] | None = None) -> QuerySet:
    """The distinct phones a broadcast reaches, in phone order — what creating its messages needs.

    Cheaper than `recipients_for_send` (no per-phone row lookup), and sorted so that inserting
    messages in this order appends to the (broadcast, phone) index instead of scattering.
    """
    members = Recipient.objects.filter(recipient_list_id__in=recipient_list_ids)
    if unsubscribe_list_ids:
        unsubscribed = UnsubscribeNumber.objects.filter(
            unsubscribe_list_id__in=unsubscribe_list_ids, phone=OuterRef("phone")
        )
        members = members.filter(~Exists(unsubscribed))
    return members.values_list("phone", flat=True).distinct().order_by("phone")
