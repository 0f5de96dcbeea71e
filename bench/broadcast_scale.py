"""A broadcast to 1,000,000 recipients: local estimate, message creation, and page times.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/textcast_bench \\
        .venv/bin/python bench/broadcast_scale.py --rows 1000000

Loads --rows recipients with COPY (1% of them opted out; setup, not measured), then measures,
each next to a baseline from the same run (ESTIMATE and FAN-OUT lines: figure, ceiling, ratio,
target for 1M, PASS/FAIL, then their correctness checks):
* the local estimate vs. COPY of the same columns TO STDOUT, checked against a recount one by one;
* creating one message per recipient at submission vs. COPY of the same rows into the message table;
* rendering the broadcast, broadcast-list and overview pages (pre-aggregated counters) vs. the
  login page, with a million messages in the table;
* the DLR timeline endpoint the broadcast page polls every 5 s (pre-aggregated per minute and
  per link), with the million messages' statuses spread over six hours, vs. counting the
  messages per minute as it did before.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_recipients import FIRST, ensure_database, phone, setup_django


def timed(label, func, repeat=1):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(f"  {label:<52} {best:8.3f} s")
    return best, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is created if missing).")
    ensure_database(url)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # Django's test client
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage")
    setup_django()

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from campaigns.estimates import RECIPIENT_FIELDS, local_estimate
    from campaigns.models import Broadcast, Campaign, Message
    from campaigns.sending import messages_create
    from messaging.models import ProviderAccount
    from recipients.models import Recipient, RecipientList, UnsubscribeList

    account, _ = ProviderAccount.objects.get_or_create(name="Bench", defaults={"api_key": "bench"})
    Broadcast.objects.filter(account=account).delete()
    RecipientList.objects.filter(account=account).delete()
    UnsubscribeList.objects.filter(account=account).delete()
    # The last run's messages are dead rows until vacuumed (autovacuum is off here): every insert
    # would check them in the unique indexes, and the figures would depend on how often it ran.
    connection.cursor().execute(f"VACUUM ANALYZE {Message._meta.db_table}")
    campaign, _ = Campaign.objects.get_or_create(account=account, name="Bench", defaults={"remote_id": 1})
    recipient_list = RecipientList.objects.create(account=account, name="Bench list", recipient_count=args.rows)

    print(f"setup: COPY {args.rows:,} recipients …", flush=True)
    rnd, seen = random.Random(7), set()
    table = Recipient._meta.db_table
    with connection.cursor() as cursor, cursor.copy(
        f"COPY {table} (recipient_list_id, phone, first_name, custom) FROM STDIN"
    ) as copy:
        while len(seen) < args.rows:
            number = phone(rnd)
            if number not in seen:
                seen.add(number)
                copy.write_row((recipient_list.pk, number, rnd.choice(FIRST), f"order-{len(seen)}"))
    connection.cursor().execute(f"ANALYZE {table}")
    # 1% opted out: the estimate and the messages leave them out.
    optouts = UnsubscribeList.objects.create(account=account, name="Bench opt-outs")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO recipients_unsubscribenumber (unsubscribe_list_id, phone) "  # noqa: S608
                       f"SELECT %s, phone FROM {table} WHERE recipient_list_id = %s AND id %% 100 = 7",
                       [optouts.pk, recipient_list.pk])
        cursor.execute("ANALYZE recipients_unsubscribenumber")
        cursor.execute(f"SELECT count(*) FROM {table} r WHERE recipient_list_id = %s AND NOT EXISTS ("  # noqa: S608
                       "SELECT 1 FROM recipients_unsubscribenumber u WHERE u.unsubscribe_list_id = %s "
                       "AND u.phone = r.phone)", [recipient_list.pk, optouts.pk])
        expected = cursor.fetchone()[0]

    body = "Hi {{first_name}}, your order {{custom}} ships today! €5 off: {{shorten_url}}"
    broadcast = Broadcast.objects.create(account=account, campaign=campaign, name="Bench broadcast", body=body)
    broadcast.recipient_lists.set([recipient_list])
    broadcast.unsubscribe_lists.set([optouts])

    print(f"\n{args.rows:,} recipients, {args.rows - expected:,} of them opted out")
    columns = ", ".join(RECIPIENT_FIELDS)

    def copy_out():
        size = 0
        with connection.cursor() as cursor, cursor.copy(
                f"COPY (SELECT {columns} FROM {table} WHERE recipient_list_id = {recipient_list.pk}) TO STDOUT"  # noqa: S608
        ) as copy:
            for block in copy:
                size += len(block)
        return size

    read, _ = timed("ceiling: COPY the recipients' fields TO STDOUT", copy_out)
    estimate, result = timed("local estimate (dedupe, render, count parts)", lambda: local_estimate(broadcast))
    print(f"    → {result['recipients']:,} recipients, parts {result['parts']}, {len(result['countries'])} countries")
    verdict("ESTIMATE", f"{estimate:.3f} s", read, estimate, target=2.0 * args.rows / 1_000_000,
            passed=estimate <= 2.0 * args.rows / 1_000_000, unit="s")
    sample_ok = estimate_recount_matches(broadcast, recipient_list, optouts)
    check("estimate: recipients == recipients after opt-outs", result["recipients"] == expected,
          f"{result['recipients']:,} vs {expected:,}")
    check("estimate: a 20,000-recipient sample's parts and countries == a recount one by one", sample_ok)

    ceiling_broadcast = Broadcast.objects.create(account=account, campaign=campaign, name="Bench ceiling", body=body)
    ceiling = copy_into_messages(ceiling_broadcast, recipient_list)
    create, created = timed("create one message per recipient (messages_create)",
                            lambda: messages_create(broadcast, status=Message.Status.SUBMITTED))
    print(f"    → {created:,} messages, {created / create:,.0f} rows/s")
    verdict("FAN-OUT", f"{created / create:,.0f} rows/s", ceiling, create, target=200_000,
            passed=created / create >= 200_000, unit="rows/s")
    check("fan-out: messages == recipients after opt-outs", created == expected == Message.objects.filter(
        broadcast=broadcast).count(), f"{created:,} vs {expected:,}")
    check("fan-out: each message's country == the number's own (every 50th)", countries_match(broadcast))
    from campaigns.costs import CountryMap, cost_rows

    select = Recipient.objects.filter(recipient_list=recipient_list).values("phone").query.sql_with_params()
    _, numbers = timed("  of which: each number's country (CountryMap)", lambda: CountryMap(*select))
    print(f"    → {len(numbers.heads):,} groups by first digits, {len(numbers.exact):,} numbers decided one by one")
    Broadcast.objects.filter(pk=broadcast.pk).update(state="submitted", recipients_count=created, sent=created,
                                                     delivered=created // 2)

    user = get_user_model().objects.filter(username="bench").first() or get_user_model().objects.create_superuser(
        "bench", "", "bench-password-not-secret")
    spread_statuses(broadcast)
    client = Client()
    client.force_login(user)
    print(f"\npages with {Message.objects.count():,} messages in the table (best of 5)")
    def login_page():
        assert Client().get("/accounts/login/").status_code == 200

    baseline, _ = timed("baseline: login page", login_page, repeat=5)
    for label, path in (("broadcast page", f"/broadcasts/{broadcast.pk}/"),
                        ("broadcast page, filtered: delivered (85%)", f"/broadcasts/{broadcast.pk}/?status=delivered"),
                        ("broadcast page, filtered: rejected (2%)", f"/broadcasts/{broadcast.pk}/?status=rejected"),
                        ("broadcast page, filtered: submitted (none)", f"/broadcasts/{broadcast.pk}/?status=submitted"),
                        ("broadcast page, filtered: phone prefix", f"/broadcasts/{broadcast.pk}/?phone=38067"),
                        ("broadcast list", "/broadcasts/"), ("overview", "/"),
                        ("figures partial (polled)", f"/broadcasts/{broadcast.pk}/figures/"),
                        ("cost by country (cached after the first)", f"/broadcasts/{broadcast.pk}/costs/"),
                        ("DLR timeline (polled)", f"/callbacks/broadcasts/{broadcast.pk}/timeline.json")):
        def get(path=path):
            response = client.get(path, secure=True)
            assert response.status_code == 200, (path, response.status_code)
        elapsed, _ = timed(label, get, repeat=5)
        print(f"    → {elapsed / baseline:.1f}x the login page")

    from django.db.models import Count
    from django.db.models.functions import TruncMinute

    def count_per_minute():
        return list(Message.objects.filter(broadcast=broadcast, status_at__isnull=False)
                    .annotate(minute=TruncMinute("status_at")).values("minute", "status").annotate(n=Count("pk")))

    timed("baseline: messages counted per minute (before)", count_per_minute, repeat=2)
    timed("cost by country, uncached (GROUP BY the messages)",
          lambda: cost_rows(Message.objects.filter(broadcast=broadcast)), repeat=2)


def verdict(label, figure, ceiling, elapsed, *, target, passed, unit):
    """The row's line: figure, same-run ceiling, their ratio, target and PASS/FAIL."""
    bound = f">= {target:,.0f}" if unit == "rows/s" else f"<= {target:.2f}"
    print(f"  {label}: {figure}; ceiling {ceiling:.3f} s, this takes {elapsed / ceiling:.2f}x the ceiling's time; "
          f"target {bound} {unit}: {'PASS' if passed else 'FAIL'}", flush=True)


def check(label, ok, detail=""):
    print(f"  check {label}: {'ok' if ok else 'WRONG'}{f' ({detail})' if detail else ''}", flush=True)


def estimate_recount_matches(broadcast, recipient_list, optouts, size=20_000):
    """The estimate of a broadcast to a sample of the recipients (plus a copy of some of them in a
    second list, and the opt-outs) against rendering and counting each recipient on its own."""
    from collections import Counter

    from django.db import connection

    from campaigns import rendering, sms
    from campaigns.estimates import RECIPIENT_FIELDS, local_estimate, render_context, token_objects
    from campaigns.models import Broadcast
    from recipients.models import Recipient, RecipientList
    from recipients.phones import phone_country
    from recipients.selectors import recipients_for_send

    lists = [RecipientList.objects.create(account=broadcast.account, name=f"Bench sample {n}") for n in (1, 2)]
    table, columns = Recipient._meta.db_table, ", ".join(RECIPIENT_FIELDS)
    with connection.cursor() as cursor:
        for sample, every in zip(lists, (1, 3), strict=True):  # the second: every 3rd of them again
            cursor.execute(f"INSERT INTO {table} (recipient_list_id, {columns}) SELECT %s, {columns} "  # noqa: S608
                           f"FROM {table} WHERE recipient_list_id = %s AND id %% %s = 0 ORDER BY id LIMIT %s",
                           [sample.pk, recipient_list.pk, every, size // every])
        cursor.execute(f"UPDATE {table} SET first_name = 'Zoë' WHERE recipient_list_id = %s AND id %% 7 = 0",  # noqa: S608
                       [lists[1].pk])  # the first list's row is the one that counts
    sample = Broadcast.objects.create(account=broadcast.account, campaign=broadcast.campaign, name="Bench sample",
                                      body=broadcast.body)
    sample.recipient_lists.set(lists)
    sample.unsubscribe_lists.set([optouts])
    estimate = local_estimate(sample)
    renderer = rendering.compile(sample.body, context=render_context(sample.account, spinners=token_objects(
        sample.account)["spinners"], worst_case=True))
    parts, countries = Counter(), {}
    for row in recipients_for_send(recipient_list_ids=[x.pk for x in lists],
                                   unsubscribe_list_ids=[optouts.pk]).values(*RECIPIENT_FIELDS):
        n = sms.count_parts(renderer(row))
        parts[str(n)] += 1
        figures = countries.setdefault(phone_country(row["phone"]), {"recipients": 0, "parts": 0})
        figures["recipients"] += 1
        figures["parts"] += n
    sample.delete()
    RecipientList.objects.filter(pk__in=[x.pk for x in lists]).delete()
    return estimate["parts"] == dict(parts) and estimate["countries"] == countries


def copy_into_messages(ceiling_broadcast, recipient_list) -> float:
    """The fan-out's ceiling: COPY the same rows into the message table (committed, so its foreign
    keys are checked as the fan-out's are), then take them out again (not timed)."""
    import tempfile

    from django.db import connection

    from campaigns.models import Message

    table = Message._meta.db_table
    columns = ("account_id, broadcast_id, phone, client_ref, provider_message_id, status, status_rank, error, "
               "clicks, submitted_at, country")
    with tempfile.TemporaryFile() as spool:
        with connection.cursor() as cursor, cursor.copy(
                f"COPY (SELECT {ceiling_broadcast.account_id}, {ceiling_broadcast.pk}, phone, "  # noqa: S608
                f"(lpad(to_hex({ceiling_broadcast.pk}), 12, '0') || "
                "lpad(to_hex(row_number() OVER (ORDER BY phone)), 20, '0'))::uuid, '', "
                "'submitted', 1, '', 0, now(), 'GB' FROM recipients_recipient "
                f"WHERE recipient_list_id = {recipient_list.pk} ORDER BY phone) TO STDOUT") as copy:
            for block in copy:
                spool.write(block)

        def copy_in():
            spool.seek(0)
            with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                while block := spool.read(1 << 20):
                    copy.write(block)

        elapsed, _ = timed("ceiling: COPY the same rows into the message table", copy_in)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE broadcast_id = %s", [ceiling_broadcast.pk])  # noqa: S608
        cursor.execute(f"VACUUM ANALYZE {table}")
    ceiling_broadcast.delete()
    return elapsed


def countries_match(broadcast) -> bool:
    from django.db.models import F

    from campaigns.models import Message
    from recipients.phones import phone_country

    rows = (Message.objects.filter(broadcast=broadcast).annotate(every=F("id") % 50).filter(every=0)
            .values_list("phone", "country"))
    return all(country == phone_country(phone) for phone, country in rows)


def spread_statuses(broadcast):
    """What a million DLRs leave behind (setup, not measured): each message en route a few seconds
    after the submission, then a final status minutes to hours later (most within the first
    half hour), and the per-minute and per-link rows applying keeps (the status changes, as
    callbacks.services adds them up; clicks on 20 links by 8 % of the recipients)."""
    from django.db import connection
    from django.utils import timezone

    from callbacks.models import BroadcastLink, BroadcastMinute
    from campaigns.models import Message

    print("setup: spread the messages' statuses over six hours …", flush=True)
    table, minutes = Message._meta.db_table, BroadcastMinute._meta.db_table
    enroute = "%s::timestamptz + (id %% 180) * interval '1 second'"  # within 3 minutes of the submission
    final = "least(-ln(1 - random()) * interval '20 minutes', interval '6 hours')"
    start = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = CASE WHEN r < 0.85 THEN 'delivered' WHEN r < 0.90 THEN 'undelivered' "  # noqa: S608
            "WHEN r < 0.93 THEN 'expired' WHEN r < 0.95 THEN 'rejected' ELSE 'enroute' END, "
            "status_rank = CASE WHEN r < 0.95 THEN 10 ELSE 2 END, "
            f"status_at = CASE WHEN r < 0.95 THEN e + {final} ELSE e END "
            f"FROM (SELECT id AS mid, random() AS r, {enroute} AS e FROM {table} WHERE broadcast_id = %s) AS d "
            f"WHERE {table}.id = d.mid", [start, broadcast.pk])
        cursor.execute(
            f"INSERT INTO {minutes} (broadcast_id, minute, status, changes) "  # noqa: S608
            f"SELECT broadcast_id, date_trunc('minute', {enroute}), 'enroute', count(*) FROM {table} "
            "WHERE broadcast_id = %s GROUP BY 1, 2 "
            "UNION ALL SELECT broadcast_id, date_trunc('minute', status_at), status, count(*) "
            f"FROM {table} WHERE broadcast_id = %s AND status <> 'enroute' GROUP BY 1, 2, 3",
            [start, broadcast.pk, broadcast.pk])
    BroadcastLink.objects.bulk_create(BroadcastLink(broadcast=broadcast, link_id=f"hkzt.me/l{n:02d}",
                                                    clicks=4000 + 50 * n, people=3500 + 40 * n) for n in range(20))
    print(f"  {BroadcastMinute.objects.filter(broadcast=broadcast).count():,} per-minute rows", flush=True)
    # What autovacuum does after a million updates (this machine's PostgreSQL runs with it off):
    # without it the planner still believes every message is "submitted" and pages pay for it.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")


if __name__ == "__main__":
    main()
