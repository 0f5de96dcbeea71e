"""What the retry hook costs the delivery-report apply path (campaigns.retries.retries_on_reports
and the on-commit queueing of retry_undelivered).

    SECRET_KEY=x DATABASE_URL=postgres://postgres@127.0.0.1:5432/textcast_bench \\
        REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/retries_apply.py

(a migrated database). Applies the same --messages generic DLRs (batches of --batch, 70%
delivered, 30% undelivered) to a broadcast with its retry policy off, then on, alternating
--rounds times, and prints the best rate of each. Retries are only queued, never sent.
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*, retry: bool, messages: int, batch: int) -> float:
    from django.utils import timezone

    from callbacks.models import CallbackEvent
    from callbacks.services import events_record
    from campaigns.models import Broadcast, Message
    from messaging.models import GenericProviderConfig, ProviderAccount

    tag = uuid.uuid4().hex[:8]
    account = ProviderAccount.objects.create(name=f"bench-{tag}", kind="generic", api_key="")
    GenericProviderConfig.objects.create(account=account, endpoint="https://sms.example.com/x", dlr_enabled=True,
                                         dlr_ref_field="ref", dlr_status_field="state",
                                         dlr_status_map={"DELIVRD": "delivered", "UNDELIV": "undelivered"})
    backup = ProviderAccount.objects.create(name=f"bench-backup-{tag}", kind="generic", api_key="")
    broadcast = Broadcast.objects.create(account=account, name="bench", body="x", state="submitted", sent=messages,
                                         retry_enabled=retry, retry_statuses=["undelivered"],
                                         retry_wait_minutes=60, retry_account=backup)
    Message.objects.bulk_create([Message(account=account, broadcast=broadcast, phone=f"3805{i:08d}",
                                         status="submitted", status_rank=1) for i in range(messages)],
                                batch_size=5000)
    refs = Message.objects.filter(broadcast=broadcast).values_list("client_ref", flat=True)
    events = [CallbackEvent(account_id=account.pk, kind="generic", dedupe_key="", received_at=timezone.now(),
                            body=json.dumps({"ref": str(ref), "state": "UNDELIV" if i % 10 < 3 else "DELIVRD"}))
              for i, ref in enumerate(refs)]
    started = time.perf_counter()
    for start in range(0, messages, batch):
        events_record(events[start:start + batch])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    took: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for retry in (False, True):
            took[retry].append(run(retry=retry, messages=args.messages, batch=args.batch))
            print(f"retry policy {'on ' if retry else 'off'}: {args.messages / took[retry][-1]:,.0f} DLRs/s")
    off, on = min(took[False]), min(took[True])
    print(f"best of {args.rounds}: off {args.messages / off:,.0f} DLRs/s, on {args.messages / on:,.0f} DLRs/s "
          f"({100 * (on - off) / off:+.1f}% time)")


if __name__ == "__main__":
    main()
