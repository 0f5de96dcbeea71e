"""Quiet hours at scale: the zone lookup + window check per number, and what the check costs dispatch.

    .venv/bin/python bench/compliance.py                       # SQLite file var/bench_compliance.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/textcast_bench .venv/bin/python bench/compliance.py

1. 1,000,000 numbers from 40 prefixes (US area codes, Europe, Asia, Australia; random subscriber
   digits) through `campaigns.policy.Windows.state` — the prefix-cached zone lookup and the
   window check dispatch runs for every claimed message. Next to it, from the same run, a sample
   through `phonenumbers.parse` + `phonenumbers.timezone.time_zones_for_number` per number, the
   ratio between the two, and how often both name the same zones. Target: ≥ 500,000 numbers/s.
2. The dispatch benchmark's zero-latency scenario (bench/dispatch.py: fan-out, rendering, sending
   to a local sink, recording) with the policy check and with it replaced by a pass-through,
   alternated; best of each. Target: the check costs ≤ 10% of the rate.
"""

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dispatch import sink_call, start_sink  # noqa: E402
from import_recipients import ensure_database, setup_django  # noqa: E402

PREFIXES = ["1212", "1213", "1312", "1303", "1808", "1415", "1305", "1617", "1702", "1907", "44207", "447",
            "4930", "4915", "3314", "336", "3491", "346", "3906", "393", "48", "31", "380", "7495", "7916",
            "9111", "9198", "8613", "863", "813", "819", "8210", "612", "614", "6421", "5511", "5521", "2782",
            "2348", "971"]


def numbers(count: int) -> list[str]:
    rng = random.Random(13)
    return [p + "".join(rng.choice("0123456789") for _ in range(11 - len(p) + (1 if len(p) > 3 else 0)))
            for p in (rng.choice(PREFIXES) for _ in range(count))]


def lookup_rate(account, count: int, sample: int) -> None:
    import phonenumbers
    from phonenumbers import timezone as pn_timezone

    from campaigns import policy

    phones = numbers(count)
    at = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
    policy._head_cache.clear()
    started = time.perf_counter()
    is_open = policy.Windows(account).checker(at)  # as dispatch builds it for each claimed chunk
    open_now = 0
    for phone in phones:
        if is_open(phone):
            open_now += 1
    ours = count / (time.perf_counter() - started)

    picked = phones[:sample]
    started = time.perf_counter()
    theirs_zones = []
    for phone in picked:
        theirs_zones.append(tuple(pn_timezone.time_zones_for_number(phonenumbers.parse("+" + phone))))
    theirs = sample / (time.perf_counter() - started)
    same = sum(1 for phone, zones in zip(picked, theirs_zones, strict=True)
               if zones == policy.zone_names(phone) or zones == ("Etc/Unknown",))
    print(f"zone lookup + window check, {count:,} numbers: {ours:10,.0f} numbers/s (target ≥ 500,000; "
          f"{open_now:,} open at {at:%Y-%m-%d %H:%M} UTC)")
    print(f"phonenumbers.parse + time_zones_for_number per number ({sample:,} of them): {theirs:10,.0f} numbers/s; "
          f"ours is {ours / theirs:.0f}x; same zones (or theirs unknown) for {same / sample:.1%}")


def dispatch_rates(count: int, rounds: int) -> None:
    from django.conf import settings

    from campaigns import policy
    from campaigns.models import Broadcast
    from campaigns.tasks import submit_broadcast
    from messaging.models import GenericProviderConfig, ProviderAccount
    from recipients.models import Recipient, RecipientList

    settings.DISPATCH_RUN_SECONDS = 3600
    settings.SENDING_WINDOW = "00:00-23:59:59"  # every message is checked and passes
    port = 18741
    sink = start_sink(port, 0.0)
    url = f"http://127.0.0.1:{port}"
    run_id = int(time.time())
    checked = policy.Gate.admit
    spent = [0.0]

    def timed(self, rows):
        started = time.perf_counter()
        try:
            return checked(self, rows)
        finally:
            spent[0] += time.perf_counter() - started

    rates: dict[str, list[float]] = {"with the check": [], "without": []}
    shares: list[float] = []
    try:
        for i in range(rounds * 2 + 1):
            # A first run without the check warms the sink and the database up; then they alternate.
            label = "without" if i % 2 == 0 else "with the check"
            policy.Gate.admit = timed if label == "with the check" else (lambda self, rows: rows)
            spent[0] = 0.0
            account = ProviderAccount.objects.create(name=f"bench compliance {run_id} {i}", kind="generic", api_key="")
            GenericProviderConfig.objects.create(
                account=account, endpoint=f"{url}/sms", method="POST", body_format="json",
                body_template='{"from": "Shop", "to": "$$To", "text": "$$Body", "client_ref": "$$MessageID"}',
                response_id_field="message_id", max_concurrency=100)
            recipient_list = RecipientList.objects.create(account=account, name="bench")
            Recipient.objects.bulk_create((Recipient(recipient_list=recipient_list, phone=f"44{7000000000 + n}",
                                                     first_name=f"N{n % 97}") for n in range(count)), batch_size=5000)
            broadcast = Broadcast.objects.create(account=account, name="bench",
                                                 body="Hi {{first_name}}, your code is 1234 & more")
            broadcast.recipient_lists.set([recipient_list])
            sink_call("POST", f"{url}/_reset")
            started = time.perf_counter()
            submit_broadcast(broadcast.pk)
            elapsed = time.perf_counter() - started
            if i:
                rates[label].append(count / elapsed)
                if label == "with the check":
                    shares.append(spent[0] / elapsed)
            broadcast.refresh_from_db()
            assert broadcast.state == "completed" and broadcast.sent == count, (broadcast.state, broadcast.sent)
    finally:
        policy.Gate.admit = checked
        sink.terminate()
        sink.wait(5)
    best_with, best_without = max(rates["with the check"]), max(rates["without"])
    runs = ", ".join(f"{k} " + "/".join(f"{r:.0f}" for r in v) for k, v in rates.items())
    print(f"dispatch, zero-latency sink, {count:,} messages, best of {rounds}: {best_with:,.0f} msg/s with the "
          f"policy check, {best_without:,.0f} msg/s without: the check costs {1 - best_with / best_without:.1%} "
          f"(target ≤ 10%; every run: {runs}); inside the runs with it, the check itself took "
          f"{min(shares):.1%} of the time (this machine is shared, so the rates are noisy; that share is not)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        ensure_database(url)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench_compliance.sqlite3'}"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["OUTBOUND_ALLOWED_HOSTS"] = "127.0.0.1"  # the local sink (the address guard refuses loopback)
    setup_django()

    from django.core.management import call_command
    from django.db import connection

    from messaging.models import ProviderAccount

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}, cores: {os.cpu_count()}")
    account, _ = ProviderAccount.objects.get_or_create(name="bench compliance lookups", kind="generic",
                                                       defaults={"api_key": ""})
    lookup_rate(account, args.numbers, args.sample)
    dispatch_rates(args.messages, args.rounds)


if __name__ == "__main__":
    main()
