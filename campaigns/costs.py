"""Cost per country: which country each message goes to, what generic accounts charge there, and
what broadcasts, campaigns and periods cost, country by country, in each account's currency.

Prices come from the provider where it reports them (MessageWhiz's DLR `price`, callbacks) and,
for generic accounts, from the account's price table when a message is sent (its parts times the
price per part of its country, or the account's default). A message without either has an
unknown price: counted, never taken as free. Amounts in different currencies are never added up:
every figure carries its currency, and totals are per currency.
"""

import hashlib
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from messaging.models import ProviderAccount
from messaging.prices import price_table
from recipients.countries import COUNTRY_NAMES
from recipients.phones import PhoneRegions, phone_country

from .models import Broadcast, Message

HEADS = PhoneRegions.LEVELS  # first digits by which numbers are grouped when their countries are decided


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code) if code else "Unknown"


# --- each message's country ------------------------------------------------------------------------
class CountryMap:
    """The countries of the numbers a query selects, decided per group of numbers sharing their
    length and first digits (recipients.phones.PhoneRegions: the first 6, else the first 9), so a
    million numbers cost one GROUP BY and a few thousand decisions; numbers whose 9 first digits
    do not settle it are decided one by one. Only the groups are used (`sql`), never the counts, so
    `select_sql` may select more numbers than get messages (e.g. the lists' rows before de-duplication
    and opt-outs), which is cheaper to group.

    `select_sql` must select a `phone` column."""

    def __init__(self, select_sql: str, params):
        self.heads: dict[tuple[str, int], str] = {}  # (first 6 or 9 digits, length) → country
        self.exact: dict[str, str] = {}  # phone → country, for numbers no group settles
        open_heads: list[str] = []
        with connection.cursor() as cursor:
            for index, level in enumerate(HEADS):
                query = (f"SELECT substr(p.phone, 1, {level}), length(p.phone) FROM ({select_sql}) AS p "  # noqa: S608
                         "{where} GROUP BY 1, 2")
                found = []
                for where, chunk_params in _within(open_heads, size=HEADS[index - 1] if index else None):
                    cursor.execute(query.format(where=where), [*params, *chunk_params])
                    found += cursor.fetchall()
                open_heads = []
                for head, length in found:
                    country = phone_country.head(head, length) if head.isdigit() else ""
                    if country is None:
                        open_heads.append(head)
                    else:
                        self.heads[head, length] = country
                if not open_heads:
                    return
            for where, chunk_params in _within(open_heads, size=HEADS[-1]):
                cursor.execute(f"SELECT DISTINCT p.phone FROM ({select_sql}) AS p {where}",  # noqa: S608
                               [*params, *chunk_params])
                self.exact.update((phone, phone_country(phone)) for (phone,) in cursor.fetchall())

    def sql(self, alias: str) -> tuple[str, str]:
        """(the country expression, the joins) for a SELECT over `alias`.phone.

        The values are digits and region codes decided above, written as literals: a list of
        thousands of groups would pass SQLite's and psycopg's parameter limits."""
        joins, found = [], []
        exact = ", ".join(f"('{phone}', '{country}')" for phone, country in self.exact.items()
                          if phone.isdigit() and country.isalpha())
        if exact:
            joins.append(f"LEFT JOIN (VALUES {exact}) AS country_exact ON country_exact.column1 = {alias}.phone")
            found.append("country_exact.column2")
        for level in reversed(HEADS):
            rows = ", ".join(f"('{head}', {length}, '{country}')" for (head, length), country in self.heads.items()
                             if len(head) == level and head.isdigit() and country.isalpha())
            if rows:
                name = f"country_heads{level}"
                joins.append(f"LEFT JOIN (VALUES {rows}) AS {name} ON {name}.column1 = "
                             f"substr({alias}.phone, 1, {level}) AND {name}.column2 = length({alias}.phone)")
                found.append(f"{name}.column3")
        return "COALESCE(" + ", ".join([*found, "''"]) + ")", " ".join(joins)


def _within(heads: list[str], *, size: int | None):
    """(WHERE clause, params) per chunk of the groups still open at the previous level (their
    first `size` digits; shorter numbers are their own head), the only ones looked at more
    closely; the first level (`size` None) looks at every number."""
    if size is None:
        yield "", []
        return
    for start in range(0, len(heads), 500):
        chunk = heads[start:start + 500]
        yield f"WHERE substr(p.phone, 1, {size}) IN ({', '.join(['%s'] * len(chunk))})", chunk


# --- generic messages priced when sent --------------------------------------------------------------
def sent_prices_record(*, broadcast_id: int, priced: dict[int, tuple[int, Decimal | None]], pks) -> Decimal:
    """Write the parts and price of generic messages the provider took (`priced`: message id →
    (parts, price from the table)), and add them to the broadcast's cost; returns the sum.

    Only messages no report has priced yet change: a provider that does report a price is right."""
    groups: dict[tuple[int, Decimal | None], list[int]] = {}
    for pk in pks:
        figures = priced.pop(pk, None)
        if figures is not None:
            groups.setdefault(figures, []).append(pk)
    added = Decimal(0)
    for (parts, price), ids in groups.items():
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            Message.objects.filter(pk__in=chunk, parts_rank=0, parts__isnull=True).update(parts=parts)
            if price is not None:
                added += price * Message.objects.filter(pk__in=chunk, price_rank=0, price__isnull=True).update(
                    price=price)
    if added:
        Broadcast.objects.filter(pk=broadcast_id).update(cost=F("cost") + added)
    return added


# --- roll-ups --------------------------------------------------------------------------------------
COLUMNS = ("currency", "country", "country_name", "messages", "parts", "delivered", "cost", "unpriced")


def cost_rows(messages: QuerySet[Message]) -> list[dict]:
    """Per currency and country: messages, parts (None when no report or send said), delivered,
    cost (Decimal; sums of the known prices) and unpriced (messages sent with no price known),
    ordered by currency, then cost."""
    sent = Q(status_rank__gt=0)
    rows = (messages.order_by().values("country", currency=F("account__currency"))
            .annotate(messages=Count("pk"), parts=Sum("parts"), delivered=Count("pk", filter=Q(
                status=Message.Status.DELIVERED)), cost=Sum("price"),
                unpriced=Count("pk", filter=sent & Q(price__isnull=True))))
    result = []
    for row in rows:
        result.append({"currency": row["currency"], "country": row["country"],
                       "country_name": country_name(row["country"]), "messages": row["messages"],
                       "parts": row["parts"], "delivered": row["delivered"],
                       "cost": Decimal(row["cost"] or 0).quantize(Decimal("0.0001")), "unpriced": row["unpriced"]})
    result.sort(key=lambda r: (r["currency"], -r["cost"], r["country_name"]))
    return result


def cost_totals(rows: list[dict]) -> list[dict]:
    """One total per currency (never one over several)."""
    totals: dict[str, dict] = {}
    for row in rows:
        total = totals.setdefault(row["currency"], {"currency": row["currency"], "messages": 0, "parts": None,
                                                    "delivered": 0, "cost": Decimal(0), "unpriced": 0})
        for name in ("messages", "delivered", "cost", "unpriced"):
            total[name] += row[name]
        if row["parts"] is not None:
            total["parts"] = (total["parts"] or 0) + row["parts"]
    return [totals[currency] for currency in sorted(totals)]


def family_ids(broadcast_ids) -> list[int]:
    """The broadcasts and those derived from them (Broadcast.parent, any depth): a child's
    figures roll up to its parent's."""
    found, todo = set(broadcast_ids), list(broadcast_ids)
    while todo:
        todo = [pk for pk in Broadcast.objects.filter(parent_id__in=todo).values_list("pk", flat=True)
                if pk not in found]
        found.update(todo)
    return sorted(found)


# What moves when a broadcast's messages are sent, reported on or priced (callbacks keep them).
FINGERPRINT = ("pk", "created_at", "cost", "sent", "delivered", "undelivered", "expired", "rejected", "failed",
               "unknown", "recipients_count")


def _family_costs(ids: list[int]) -> list[dict]:
    """cost_rows of the broadcasts' messages, cached until one of their counters moves: a million
    messages take a GROUP BY of a second or so, the counters one indexed read."""
    ids = family_ids(ids)
    if not ids:
        return []
    state = list(Broadcast.objects.filter(pk__in=ids).order_by("pk").values_list(*FINGERPRINT))
    key = "costs:" + hashlib.sha256(repr(state).encode()).hexdigest()
    rows = cache.get(key)
    if rows is None:
        rows = cost_rows(Message.objects.filter(broadcast_id__in=ids))
        cache.set(key, rows, timeout=24 * 3600)
    return rows


def broadcast_costs(broadcast: Broadcast) -> list[dict]:
    return _family_costs([broadcast.pk])


def campaign_costs(campaign) -> list[dict]:
    return _family_costs(list(Broadcast.objects.filter(campaign=campaign, recurrence__isnull=True)
                              .values_list("pk", flat=True)))


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the site's time zone."""
    zone = timezone.get_current_timezone()
    return (datetime.combine(start, time.min, tzinfo=zone),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone))


def period_costs(*, start: date, end: date, account: ProviderAccount | None = None) -> list[dict]:
    """Messages of the broadcasts submitted from `start` to `end` (site's dates, inclusive)."""
    since, until = period_bounds(start, end)
    broadcasts = Broadcast.objects.filter(submitted_at__gte=since, submitted_at__lt=until)
    if account is not None:
        broadcasts = broadcasts.filter(account=account)
    return cost_rows(Message.objects.filter(broadcast_id__in=broadcasts.values("pk")))


# --- estimates -------------------------------------------------------------------------------------
def estimate_rows(*, countries: dict, account: ProviderAccount, part_rate: Decimal | None) -> list[dict]:
    """The review page's per-country estimate: recipients, parts and their cost at the account's
    table (generic) or MessageWhiz's price per part (`part_rate`); cost None where no price is known."""
    table = price_table(account)
    rows = []
    for country, figures in countries.items():
        parts = int(figures.get("parts") or 0)
        unit = table.per_part(country) if table is not None else part_rate
        rows.append({"country": country, "country_name": country_name(country),
                     "recipients": int(figures.get("recipients") or 0), "parts": parts, "per_part": unit,
                     "cost": None if unit is None else (unit * parts).quantize(Decimal("0.01")),
                     "currency": account.currency})
    rows.sort(key=lambda r: (-r["parts"], r["country_name"]))
    return rows


def messages_countries_fill(*, chunk: int = 10_000) -> int:
    """Give messages created before they knew their country one (in chunks by id, each its own
    statement, so a large table is never locked for long); returns how many were filled."""
    filled, last = 0, 0
    while True:
        rows = list(Message.objects.filter(pk__gt=last, country="").order_by("pk").values_list("pk", "phone")[:chunk])
        if not rows:
            return filled
        by_country: dict[str, list[int]] = {}
        for pk, phone in rows:
            by_country.setdefault(phone_country(phone), []).append(pk)
        for country, pks in by_country.items():
            if country:
                filled += Message.objects.filter(pk__in=pks, country="").update(country=country)
        last = rows[-1][0]
