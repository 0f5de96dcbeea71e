"""Splitting a MessageWhiz broadcast by sending window: the policy plan and the part lists.

    .venv/bin/python bench/window_parts.py --recipients 100000    # SQLite file var/bench_parts.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/textcast_bench .venv/bin/python bench/window_parts.py

A list of N recipients in Kyiv, New York, Los Angeles and Tokyo, with 1% opted out and a
frequency cap, planned at 06:00 UTC on 2026-03-08 (half of them open) through
`campaigns.policy.broadcast_plan`, then split (`campaigns.parts.parts_split`: its own list of the
open half, a part with its own list per opening; nothing is uploaded). Prints the time of each.
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_recipients import ensure_database, setup_django  # noqa: E402

PREFIXES = ["38050", "1212555", "1310555", "81312"]  # Kyiv, New York, Los Angeles, Tokyo


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        ensure_database(url)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench_parts.sqlite3'}"
    setup_django()

    from django.core.management import call_command
    from django.db import connection

    from campaigns import parts, policy
    from campaigns.models import Broadcast
    from messaging.models import ProviderAccount, SendingPolicy
    from recipients.consent import consent_record
    from recipients.models import ConsentEvent, Recipient, RecipientList

    call_command("migrate", verbosity=0)
    n = args.recipients
    policy.clock = lambda: datetime(2026, 3, 8, 6, tzinfo=UTC)
    account = ProviderAccount.objects.create(name=f"bench parts {time.time():.0f}", api_key="bench")
    SendingPolicy.objects.create(account=account, cap_messages=3)
    big = RecipientList.objects.create(account=account, name="bench", remote_id=int(time.time()), sync_state="synced")
    phones = [f"{PREFIXES[i % 4]}{i:07d}" for i in range(n)]
    Recipient.objects.bulk_create([Recipient(recipient_list=big, phone=p, first_name="A") for p in phones],
                                  batch_size=5000)
    consent_record(account=account, phones=phones[::100], kind=ConsentEvent.Kind.OPT_OUT,
                   source=ConsentEvent.Source.MANUAL, evidence={"note": "bench"})
    broadcast = Broadcast.objects.create(account=account, name="bench", body="Hi {{first_name}}")
    broadcast.recipient_lists.set([big])

    started = time.perf_counter()
    plan = policy.broadcast_plan(broadcast)
    planned = time.perf_counter()
    parts.parts_split(broadcast, plan, tag="tc-bench")
    split = time.perf_counter()
    print(f"database: {connection.vendor}; {n:,} recipients: now {plan.now:,}, later {plan.later:,} in "
          f"{len(plan.parts)} parts, opted out {plan.opted_out:,}")
    print(f"plan  {planned - started:6.2f} s  ({n / (planned - started):,.0f} recipients/s)")
    print(f"split {split - planned:6.2f} s  ({n / (split - planned):,.0f} recipients/s copied into part lists)")


if __name__ == "__main__":
    main()
