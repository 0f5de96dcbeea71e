"""Outbound webhook delivery into a local sink, batched and unbatched, with nothing lost.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/textcast_bench .venv/bin/python bench/webhooks.py

For each mode: N events are emitted into the outbox (timed: the cost emit() adds to a caller's
transaction), then W delivery workers (processes running the Celery task's code, `drain`) move
them into the sink (bench/webhook_sink.py: --sink-processes receivers sharing the port, each
verifying every signature; distinct event ids are counted over all of them). Delivered =
acknowledged by the sink and marked delivered here; lost = emitted minus distinct ids the sink
acknowledged. Next to each figure, the ceiling measured in the same run: the bare sink, fed by
the same HTTP client (urllib3) from the same number of processes and threads with prebuilt
bodies (no database, no signing). Both are timed by the sink, first request to last.

Targets (issue 16): ≥ 20,000 events/s batched or ≥ 2,000 requests/s unbatched, 0 lost.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_recipients import ensure_database, setup_django  # noqa: E402

DRAIN = """
import django
django.setup()
from messaging.webhooks.delivery import drain
drain(seconds=600, linger=0)
"""


def sink_stats(url: str) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our own loopback sink
        return json.loads(response.read())


def sink_reset(base: str, secret: str) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(f"{base}/_reset", data=json.dumps({"secret": secret}).encode(),  # noqa: S310
                                     method="POST")
    urllib.request.urlopen(request, timeout=30).read()  # noqa: S310


BARE = """
import sys, urllib3
from concurrent.futures import ThreadPoolExecutor
url, requests, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = sys.stdin.buffer.read()
pool = urllib3.PoolManager(maxsize=threads)
def run(_):
    for _ in range(requests // threads):
        pool.request("POST", url, body=body, headers={"content-type": "application/json"}, retries=False)
with ThreadPoolExecutor(threads) as executor:
    list(executor.map(run, range(threads)))
"""


def bare(url: str, control: str, body: bytes, requests: int, *, processes: int, threads: int) -> float:
    """Requests/s the sink takes from the same client (urllib3) (`processes` of `threads`), no database."""
    per_process = requests // processes
    procs = [subprocess.Popen([sys.executable, "-c", BARE, url, str(per_process), str(threads)], stdin=subprocess.PIPE)
             for _ in range(processes)]
    for proc in procs:
        proc.communicate(body)
    stats = sink_stats(f"{control}/_stats")
    return stats["requests"] / max(1e-9, stats["last_at"] - stats["first_at"])


def scenario(*, name: str, events: int, batch: bool, batch_size: int, workers: int, base: str,
             control: str) -> dict:
    from django.conf import settings
    from django.db import connections, transaction

    from messaging.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
    from messaging.webhooks.delivery import endpoint_create
    from messaging.webhooks.events import emit_many

    WebhookAttempt.objects.all().delete()
    WebhookMessage.objects.all().delete()
    WebhookEndpoint.objects.all().delete()
    endpoint = WebhookEndpoint(name=name, url=f"{base}/hook", event_types=["message.delivered"], batch=batch,
                               batch_size=batch_size)
    secret = endpoint_create(endpoint=endpoint)
    sink_reset(control, "")

    # The ceiling: prebuilt bodies of the same size, the same client and concurrency.
    sample = ('{"id":"evt_0","type":"message.delivered","timestamp":"2026-01-01T00:00:00+00:00","data":'
              '{"message_id":1234567,"client_ref":"6f1c8f0e-3f55-4a39-9f87-1a2b3c4d5e6f","broadcast_id":42,'
              '"phone":"+380501234567","status":"delivered","status_at":"2026-01-01T00:00:00+00:00",'
              '"provider_message_id":"mw-0123456789ab","price":"0.0500","parts":1}}')
    body = ("[" + ",".join([sample] * batch_size) + "]").encode() if batch else sample.encode()
    threads = 1 if batch else settings.WEBHOOK_CONCURRENCY  # a batched endpoint has one request in flight per worker
    bare_requests = max(200, min(20000, events // (batch_size if batch else 1)))
    bare_rps = bare(f"{base}/hook", control, body, bare_requests, processes=workers, threads=threads)
    sink_reset(control, secret)

    payload = {"message_id": 1234567, "client_ref": "6f1c8f0e-3f55-4a39-9f87-1a2b3c4d5e6f", "broadcast_id": 42,
               "phone": "+380501234567", "status": "delivered", "status_at": "2026-01-01T00:00:00+00:00",
               "provider_message_id": "mw-0123456789ab", "price": "0.0500", "parts": 1}
    started = time.perf_counter()
    for start in range(0, events, 5000):  # as the DLR applier does: one emit_many per applied batch
        with transaction.atomic():
            emit_many("message.delivered", [{**payload, "message_id": i}
                                            for i in range(start, min(events, start + 5000))])
    emit_seconds = time.perf_counter() - started

    connections.close_all()
    env = {**os.environ, "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true"}
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", DRAIN], cwd=ROOT, env=env) for _ in range(workers)]
    for proc in procs:
        proc.wait()
    seconds = time.perf_counter() - started
    stats = sink_stats(f"{control}/_stats")
    delivered = WebhookMessage.objects.filter(state=WebhookMessage.State.DELIVERED).count()
    # The sink's own first-to-last window, without process start-up.
    window = max(1e-9, (stats["last_at"] or 0) - (stats["first_at"] or 0))
    result = {
        "name": name, "events": events, "emit_us_per_event": emit_seconds / events * 1e6,
        "seconds": seconds, "events_per_s": stats["unique_events"] / window,
        "requests_per_s": stats["requests"] / window, "lost": events - stats["unique_events"],
        "repeated": stats["repeated_events"], "bad_signatures": stats["bad_signatures"],
        "delivered_rows": delivered, "bare_requests_per_s": bare_rps,
        "bare_events_per_s": bare_rps * (batch_size if batch else 1),
    }
    # The figure each target is about: events/s batched, requests/s unbatched.
    unit = "events/s" if batch else "requests/s"
    result.update(unit=unit, figure=result["events_per_s" if batch else "requests_per_s"],
                  ceiling=result["bare_events_per_s" if batch else "bare_requests_per_s"],
                  target=20_000 if batch else 2_000)
    result["correct"] = (result["lost"] == 0 and result["bad_signatures"] == 0 and delivered == events)
    return result


def apply_cost(n: int) -> dict:
    """µs per DLR applied (callbacks.services.events_record, batches of 500 as a drainer applies
    them), without and with an endpoint listening to message.delivered: what emit() adds."""
    import json
    import random
    import uuid

    from bench.callbacks import copy_messages
    from callbacks import parsing, services
    from callbacks.models import CallbackEvent
    from campaigns.models import Broadcast
    from messaging.models import ProviderAccount, WebhookEndpoint, WebhookMessage
    from messaging.webhooks.delivery import endpoint_create

    WebhookEndpoint.objects.all().delete()
    account = ProviderAccount.objects.create(name=f"bench-{uuid.uuid4().hex[:8]}", api_key="bench-not-a-key")
    figures = {}
    for label in ("without", "with", "without again"):
        if label == "with":
            endpoint_create(endpoint=WebhookEndpoint(name="apply", url="http://127.0.0.1:9/", event_types=[
                "message.delivered"], enabled=True))
        elif WebhookEndpoint.objects.exists():
            WebhookEndpoint.objects.all().delete()
        broadcast = Broadcast.objects.create(account=account, name=f"bench {label}", recipients_count=n, sent=n,
                                             remote_id=random.randrange(10**12, 10**13),
                                             state=Broadcast.State.SUBMITTED)
        refs = copy_messages(broadcast, n, provider_ids=True)
        events = []
        for i, ref in enumerate(refs):
            body = json.dumps({"message_id": f"sms{broadcast.pk}-{i}", "recipient": str(380_500_000_000 + i),
                               "status": "DELIVRD", "state": 2, "client_ref": ref, "price": 0.05, "parts_count": 1,
                               "timestamp": "2026-01-01T00:00:00Z"})
            parsed = parsing.parse(body.encode(), allowed=frozenset({"dlr"}))[1]
            events.append((CallbackEvent(account_id=account.pk, kind=parsed.kind, body=body,
                                         dedupe_key=parsed.dedupe_key, received_at=broadcast.created_at), parsed))
        started = time.perf_counter()
        for start in range(0, n, 500):
            chunk = events[start:start + 500]
            services.events_record([e for e, _ in chunk], parsed=[p for _, p in chunk])
        figures[label] = (time.perf_counter() - started) / n * 1e6
        if label == "with":
            figures["rows"] = WebhookMessage.objects.filter(endpoint__name="apply").count()
    WebhookEndpoint.objects.all().delete()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batched", type=int, default=300_000, help="events for the batched run")
    parser.add_argument("--unbatched", type=int, default=30_000, help="events for the unbatched run")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="delivery worker processes")
    parser.add_argument("--port", type=int, default=18931, help="the sink's port (its figures on the next one)")
    parser.add_argument("--sink-processes", type=int, default=2, help="receivers sharing the sink's port")
    parser.add_argument("--apply", type=int, default=20_000, help="DLRs applied for the emit-overhead figure")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        ensure_database(url)
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "webhook_sink.py"), str(args.port),
                             "--processes", str(args.sink_processes)], cwd=ROOT)
    base = f"http://127.0.0.1:{args.port}"
    control = f"http://127.0.0.1:{args.port + 1}" if args.sink_processes > 1 else base
    try:
        for _ in range(100):
            try:
                sink_stats(f"{control}/_stats")
                break
            except OSError:
                time.sleep(0.1)
        apply = apply_cost(args.apply) if url.startswith("postgres") else None
        results = [
            scenario(name="batched", events=args.batched, batch=True, batch_size=args.batch_size,
                     workers=args.workers, base=base, control=control),
            scenario(name="unbatched", events=args.unbatched, batch=False, batch_size=1, workers=args.workers,
                     base=base, control=control),
        ]
    finally:
        sink.terminate()
        sink.wait()

    print(f"\nWebhook delivery into a local sink ({args.workers} worker processes, {args.sink_processes} sink "
          f"processes, PostgreSQL: {url.startswith('postgres')})")
    print(f"{'mode':<10} {'events':>8} {'figure':>10} {'unit':<10} {'ceiling':>10} {'ratio':>6} {'target':>8} "
          f"{'result':>6} {'lost':>5} {'repeats':>7} {'bad sig':>7} {'delivered':>9} {'req/s':>8} {'emit µs/ev':>10}")
    for r in results:
        verdict = "PASS" if r["figure"] >= r["target"] and r["correct"] else "FAIL"
        print(f"{r['name']:<10} {r['events']:>8} {r['figure']:>10,.0f} {r['unit']:<10} {r['ceiling']:>10,.0f} "
              f"{r['figure'] / r['ceiling']:>6.2f} {r['target']:>8,} {verdict:>6} {r['lost']:>5} {r['repeated']:>7} "
              f"{r['bad_signatures']:>7} {r['delivered_rows']:>9} {r['requests_per_s']:>8,.0f} "
              f"{r['emit_us_per_event']:>10.1f}")
    if apply:
        print(f"DLR apply, µs per report: {apply['without']:.0f} without a listening endpoint, {apply['with']:.0f} "
              f"with one ({apply['with'] / ((apply['without'] + apply['without again']) / 2) - 1:+.0%}; "
              f"{apply['rows']} outbox rows), {apply['without again']:.0f} without again")
    met = [r["name"] for r in results if r["figure"] >= r["target"] and r["correct"]]
    print(f"issue 16 delivery rate (batched ≥ 20,000 events/s or unbatched ≥ 2,000 requests/s, 0 lost): "
          f"{'PASS (' + ', '.join(met) + ')' if met else 'FAIL'}")
    for r in results:  # correctness is not a matter of speed
        assert r["correct"], r


if __name__ == "__main__":
    main()
