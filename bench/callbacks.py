"""Benchmark the callback endpoints end to end: gunicorn + Redis buffer + drainer + PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/textcast_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/callbacks.py --seconds 60

Creates the database if needed and migrates it, creates a provider account, a broadcast of
--messages /sms-style messages (found by client_ref) and one of --batch-messages broadcast messages
(found by MessageWhiz broadcast id + recipient, then by the webhook _id they teach us), starts
gunicorn on 127.0.0.1 and --drainers `manage.py drain_callbacks` processes, warms up both the
trivial view and the DLR view (--warm-up seconds each: imports, connections, caches), and drives,
each for --seconds with the Python load generator in bench/callbacks_load.py:

1. ceiling: POST /callbacks/<token>/ping (authentication only, no database) with a DLR body, a
   trivial view behind Django's full middleware stack (the DLR endpoints skip it: callbacks/wsgi.py), on
   the same server, connections and warmed-up workers as the next phase;
2. single DLRs: the reference's "Example DLR Callback", ENROUTE first, then a final status, then
   repeats of it;
3. "DLR to webhook" batches of --batch-size entries, state 0 first, then a final state.

After each load phase it waits for the drainers to empty the stream (reported as drain lag) and
then checks: every request answered 200 (warm-up included) is stored exactly once, nothing is
left unapplied, the broadcast counters equal a recount from the raw events, and they equal what
the generator expects from the requests it got a 200 for. It ends with PASS/FAIL against the
targets of issue 15 (single: >= 2,500 requests/s with p99 <= 50 ms for 60 s, nothing lost; batched:
>= 50,000 DLRs/s applied, from the first request to the last DLR in the database), and prints
the Redis persistence settings the figures were taken with.

Two drainers are the default: one spends about half its time in Python (parsing, folding) and half
waiting for PostgreSQL (the status UPDATEs), so a second one overlaps the two on two cores
(production: run `manage.py drain_callbacks` twice, or more on more cores).

Server: gunicorn with production's config/gunicorn.conf.py (its worker class, config/gunicorn_worker.py,
a gthread worker: kept-alive connections, whereas a TCP handshake per request costs more than the
view), without its access log, on --port (default $BENCH_PORT, else any free port) of 127.0.0.1.
The DLR view (no middleware since callbacks/wsgi.py) waits for its Redis XADD, which a process's
threads share (callbacks.buffer._Adder), so 8 threads per process cover the wait; more processes
than cores only add context switches. --workers/--threads change it.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import callbacks_cpu, callbacks_load  # noqa: E402

FINALS = ["DELIVRD"] * 6 + ["UNDELIV", "EXPIRED", "REJECTD", "FAILED"]  # message i ends FINALS[i % 10]
TASK_STATE = {"DELIVRD": 2, "UNDELIV": 5, "EXPIRED": 3, "REJECTD": 8, "FAILED": 9}
STATE = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8, "FAILED": 9}
BUCKET = {"DELIVRD": "delivered", "UNDELIV": "undelivered", "EXPIRED": "expired", "REJECTD": "rejected",
          "FAILED": "failed"}
PRICES = ["0.0042", "0.005", "0.0063"]  # message i costs PRICES[i % 3]
TEXT = "Your order 4711 has shipped. Track it: https://shop.example/t/4711"
DLR = ('{"message_id":"%s","sender":"Shop","recipient":"%s","content":"' + TEXT + '","state":%d,"status":"%s",'
       '"client_ref":"%s","timestamp":"2025-03-28T15:52:31.279Z","parts_count":1,"price":%s,'
       '"parts":[{"pdu_id":"p%s","encoding":0,"content":"' + TEXT + '","status":"%s"}]}')
ENTRY = '{"segment_id":%d,"_id":"%s","broadcast_id":%d,"recipient":"%s","price":%s,"task_state":%d,"updated":%d}'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="per load phase")
    parser.add_argument("--ceiling-seconds", type=float, help="for the trivial view (default: --seconds)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per process")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "0")),
                        help="gunicorn's port on 127.0.0.1 (default: $BENCH_PORT, else any free one)")
    parser.add_argument("--drainers", type=int, default=2, help="drain_callbacks processes")
    parser.add_argument("--warm-up", type=float, default=5, help="seconds of load on each view before measuring")
    parser.add_argument("--messages", type=int, default=50_000, help="messages for single DLRs")
    parser.add_argument("--batch-messages", type=int, default=600_000, help="messages for batched DLRs")
    parser.add_argument("--batch-size", type=int, default=100, help="DLRs per batch request")
    parser.add_argument("--phases", default="ceiling,single,batch")
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's rows")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    phases = args.phases.split(",")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        parser.error("set DATABASE_URL (PostgreSQL) and REDIS_URL, e.g. "
                     "postgres://postgres@127.0.0.1:5432/textcast_bench and redis://127.0.0.1:6379/0")

    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-a-secret"),
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING",
           "CONN_MAX_AGE": "600", "PYTHONUNBUFFERED": "1",
           "PYTHONWARNINGS": "ignore:No directory at"}  # whitenoise: no collectstatic needed here
    os.environ.update(env)
    ensure_database(os.environ["DATABASE_URL"])
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    setup_django()

    data = create_data(args)
    port = args.port or free_port()
    processes = start_processes(args, env, port)
    report: dict = {"settings": {k: getattr(args, k) for k in ("seconds", "connections", "workers", "threads",
                                                                 "drainers", "batch_size", "messages",
                                                                 "batch_messages", "warm_up")},
                    "redis": redis_settings(), "phases": {}}
    try:
        wait_for_http(port, processes)
        token = data["account"].callback_token
        ping, single = f"/callbacks/{token}/ping", f"/callbacks/{token}/dlr"
        sample = dlr_body(data, 0, "DELIVRD")
        # Warm both views up the same way, so neither measured phase pays for a cold start. The DLRs
        # sent while warming up are real: they are part of the single phase's verification.
        warm = phase(args, port, processes, single, lambda seq: single_body(data, seq), args.warm_up, raw=True,
                     label="warm-up dlr")
        phase(args, port, processes, ping, lambda seq: sample, args.warm_up, label="warm-up ping")
        if "ceiling" in phases:
            report["phases"]["ceiling"] = phase(args, port, processes, ping, lambda seq: sample,
                                                args.ceiling_seconds or args.seconds)
        if "single" in phases:
            result = phase(args, port, processes, single, lambda seq: single_body(data, seq), args.seconds, raw=True,
                           start=warm.requests)
            report["phases"]["single"] = summarise(result) | drain_and_verify(args, data, "single", result,
                                                                              warm_up=warm.ok)
        if "batch" in phases:
            result = phase(args, port, processes, f"/callbacks/{token}/dlr-batch",
                           lambda seq: batch_body(data, args, seq), args.seconds, raw=True)
            summary = summarise(result, per_request=args.batch_size)
            report["phases"]["batch"] = summary | drain_and_verify(args, data, "batch", result)
    finally:
        stop_processes(processes)
        if not args.keep:
            clean_up(data)
    report["targets"] = targets(args, report["phases"])
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    failed = [name for name, figures in report["phases"].items() if figures.get("verified") is False]
    return 1 if failed or not all(passed for passed, _ in report["targets"].values()) else 0


# --- setup ---------------------------------------------------------------------------------------
def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def ensure_database(url: str) -> None:
    """CREATE DATABASE if the URL's database does not exist yet."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    params = {"host": config.get("HOST") or None, "port": config.get("PORT") or None,
              "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def create_data(args) -> dict:
    from django.db import connection

    from campaigns.models import Broadcast, Message
    from messaging.models import ProviderAccount

    account = ProviderAccount.objects.create(name=f"bench-{uuid.uuid4().hex[:8]}", api_key="bench-not-a-key")
    remote = random.randrange(10**12, 10**13)

    def broadcast(name, n, remote_id):
        return Broadcast.objects.create(account=account, name=name, remote_id=remote_id, recipients_count=n, sent=n,
                                        state=Broadcast.State.SUBMITTED)

    single = broadcast("bench single DLRs", args.messages, remote)
    batched = broadcast("bench batched DLRs", args.batch_messages, remote + 1)
    started = time.perf_counter()
    refs = copy_messages(single, args.messages, provider_ids=True)
    copy_messages(batched, args.batch_messages, provider_ids=False)
    with connection.cursor() as cursor:  # as autovacuum soon would after a big submission
        cursor.execute(f"ANALYZE {Message._meta.db_table}")
    print(f"created {args.messages + args.batch_messages} messages in {time.perf_counter() - started:.1f}s",
          flush=True)
    return {"account": account, "single": single, "batched": batched, "refs": refs,
            "phones": [str(380_500_000_000 + i) for i in range(max(args.messages, args.batch_messages))]}


def copy_messages(broadcast, n: int, *, provider_ids: bool) -> list[str]:
    """n SUBMITTED messages via COPY, as campaigns creates them at submission; returns client_refs."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Message

    template = Message(account=broadcast.account, broadcast=broadcast, status=Message.Status.SUBMITTED,
                       status_rank=1, submitted_at=timezone.now())
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    defaults = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
    position = {f.name: index for index, f in enumerate(fields)}
    refs = []
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {Message._meta.db_table} ({columns}) FROM STDIN") as copy:
        for i in range(n):
            row = list(defaults)
            ref = uuid.uuid4()
            row[position["client_ref"]] = ref
            row[position["phone"]] = str(380_500_000_000 + i)
            row[position["provider_message_id"]] = f"sms{broadcast.pk}-{i}" if provider_ids else ""
            copy.write_row(row)
            refs.append(str(ref))
    return refs


def redis_settings() -> dict:
    """The callbacks' Redis persistence, which the single-request rate depends on (every XADD is
    appended to the AOF when appendonly is on)."""
    from callbacks import buffer

    config = {}
    for name in ("appendonly", "appendfsync", "maxmemory-policy"):
        config.update(buffer.client().config_get(name))
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_processes(args, env, port) -> list[subprocess.Popen]:
    # Production's settings and worker class (config/gunicorn.conf.py), with the bench's address,
    # process counts and a keep-alive longer than a phase; no access log (nginx keeps that).
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), "--threads", str(args.threads),
         "--keep-alive", "75", "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT, env={**env, "WEB_ACCESS_LOG": ""})
    drainers = [subprocess.Popen([sys.executable, "manage.py", "drain_callbacks"], cwd=ROOT,
                                 env=env, stdout=subprocess.DEVNULL) for _ in range(args.drainers)]
    return [server, *drainers]


def wait_for_http(port: int, processes, timeout: float = 30) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("gunicorn or a drainer exited at start")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("gunicorn did not answer")


def stop_processes(processes) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def clean_up(data) -> None:
    from django.db import connection

    from callbacks.models import CallbackEvent

    broadcasts = [data["single"].pk, data["batched"].pk]
    CallbackEvent.objects.filter(account=data["account"]).delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM callbacks_click WHERE message_id IN "
                       "(SELECT id FROM campaigns_message WHERE broadcast_id = ANY(%s))", [broadcasts])
        cursor.execute("DELETE FROM campaigns_message WHERE broadcast_id = ANY(%s)", [broadcasts])
    data["single"].delete()
    data["batched"].delete()
    data["account"].delete()


# --- load ----------------------------------------------------------------------------------------
def single_status(i: int, visit: int) -> str:
    return "ENROUTE" if visit == 0 else FINALS[i % len(FINALS)]


def dlr_body(data, i: int, status: str) -> bytes:
    message_id = f"sms{data['single'].pk}-{i}"
    return (DLR % (message_id, data["phones"][i], STATE[status], status, data["refs"][i], PRICES[i % 3], i,
                   status)).encode()


def single_body(data, seq: int) -> bytes:
    n = len(data["refs"])
    i = seq % n
    return dlr_body(data, i, single_status(i, seq // n))


def batch_entry_state(i: int, visit: int) -> int:
    return 0 if visit == 0 else TASK_STATE[FINALS[i % len(FINALS)]]


def batch_body(data, args, seq: int) -> bytes:
    remote, m, size = data["batched"].remote_id, args.batch_messages, args.batch_size
    now = int(time.time() * 1000)
    entries = []
    for k in range(seq * size, seq * size + size):
        i = k % m
        entries.append(ENTRY % (remote * 10, f"{i:024x}", remote, data["phones"][i], PRICES[i % 3],
                                batch_entry_state(i, k // m), now))
    return ('{"dlrs":[' + ",".join(entries) + '],"custom_parameter":"bench"}').encode()


def phase(args, port, processes, path, make_body, seconds, raw=False, start=0, label=""):
    name = label or path.rsplit("/", 1)[-1]
    print(f"{name}: {seconds:.0f}s, {args.connections} connections …", flush=True)
    pids = (processes[0].pid, [p.pid for p in processes[1:]])
    before = callbacks_cpu.snapshot(*pids)
    result = callbacks_load.run(host="127.0.0.1", port=port, path=path, make_body=make_body, seconds=seconds,
                                connections=args.connections, start=start)
    result.cores = callbacks_cpu.cores_used(before, callbacks_cpu.snapshot(*pids), result.seconds)
    return result if raw else summarise(result)


def summarise(result, per_request: int = 1) -> dict:
    steady = result.per_second[2:] or result.per_second  # after a 2 s warm-up
    figures = {
        "requests": result.requests, "ok": len(result.ok), "errors": result.errors, "statuses": result.statuses,
        "seconds": round(result.seconds, 1), "requests_per_s": round(result.rate),
        "slowest_second_requests": min(steady) if steady else 0,
        "p50_ms": round(result.percentile(50) * 1000, 2), "p99_ms": round(result.percentile(99) * 1000, 2),
        "max_ms": round(max(result.latencies, default=0) * 1000, 1),
        "cores_used": result.cores,
        "per_second": result.per_second,
    }
    if per_request > 1:
        figures["dlrs_per_s"] = round(result.rate * per_request)
    return figures


# --- verification --------------------------------------------------------------------------------
def drain_and_verify(args, data, kind: str, result, warm_up=frozenset()) -> dict:
    from callbacks import buffer, selectors
    from callbacks.models import CallbackEvent

    started = time.perf_counter()
    deadline = started + args.drain_timeout
    left = buffer.backlog()  # requests not yet applied when the load stopped
    while buffer.backlog() and time.perf_counter() < deadline:
        time.sleep(0.2)
    lag = time.perf_counter() - started
    broadcast = data["single"] if kind == "single" else data["batched"]
    events = CallbackEvent.objects.filter(account=data["account"], kind="dlr" if kind == "single" else "dlr_batch")
    stored, unapplied = events.count(), events.filter(applied_at__isnull=True).count()
    accepted = len(result.ok) + len(warm_up)
    started = time.perf_counter()
    mismatches = selectors.mismatches([broadcast.pk])  # the recount from the raw events
    recount_s = time.perf_counter() - started
    ok = result.ok | set(warm_up)
    expected = expected_single(data, ok) if kind == "single" else expected_batch(data, args, ok)
    counters = selectors.counters(broadcast.pk)
    wrong = {name: (counters[name], value) for name, value in expected.items()
             if Decimal(counters[name]) != Decimal(value)}
    items = len(result.ok) * (1 if kind == "single" else args.batch_size)
    figures = {
        "drain_lag_s": round(lag, 1),
        "applied_per_s": round(items / (result.seconds + lag)),
        # The drainers alone, once the load generator and gunicorn no longer share the cores.
        "applied_after_load_per_s": round(left * (1 if kind == "single" else args.batch_size) / lag)
        if left and lag else None,
        "stored": stored, "unapplied": unapplied, "lost": accepted - stored, "recount_s": round(recount_s, 1),
        "counters_equal_recount": not mismatches, "counters_equal_expected": not wrong,
    }
    figures["verified"] = stored == accepted and unapplied == 0 and not mismatches and not wrong
    if mismatches or wrong:
        figures["differences"] = {"recount": mismatches, "expected": wrong}
    return figures


def _expected(best: dict[int, str], prices) -> dict:
    buckets = Counter(BUCKET[status] for status in best.values() if status in BUCKET)
    cost = sum((Decimal(prices[i % 3]) for i in best), Decimal(0))
    return {**{name: buckets[name] for name in BUCKET.values()}, "cost": cost.quantize(Decimal("0.0001"))}


def expected_single(data, ok) -> dict:
    n, best = len(data["refs"]), {}
    for seq in sorted(ok):
        i, status = seq % n, single_status(seq % n, seq // n)
        if best.get(i) in (None, "ENROUTE"):
            best[i] = status
    return _expected(best, PRICES)


def expected_batch(data, args, ok) -> dict:
    m, size, best = args.batch_messages, args.batch_size, {}
    names = {state: status for status, state in TASK_STATE.items()}
    for seq in sorted(ok):
        for k in range(seq * size, seq * size + size):
            i, state = k % m, batch_entry_state(k % m, k // m)
            if best.get(i) in (None, "ENROUTE"):
                best[i] = names.get(state, "ENROUTE")
    return _expected(best, PRICES)


def targets(args, phases: dict) -> dict[str, tuple[bool, str]]:
    """Issue 15's targets: name → (passed, what was measured)."""
    found = {}
    if "single" in phases:
        f = phases["single"]
        found["single >= 2,500 req/s"] = (f["requests_per_s"] >= 2500, f"{f['requests_per_s']} req/s")
        found["single p99 <= 50 ms"] = (f["p99_ms"] <= 50, f"{f['p99_ms']} ms")
        found["single: nothing lost"] = (f["lost"] == 0 and f["verified"],
                                         f"lost {f['lost']}, verified {f['verified']}")
        found["single sustained 60 s"] = (args.seconds >= 60, f"a {args.seconds:.0f} s run")
    if "batch" in phases:
        f = phases["batch"]
        found["batched >= 50,000 DLRs/s applied"] = (f["applied_per_s"] >= 50000 and f["verified"],
                                                     f"{f['applied_per_s']} DLRs/s applied, verified {f['verified']}")
    return found


def print_report(report: dict) -> None:
    print("\nsettings:", json.dumps(report["settings"]))
    print("redis:", json.dumps(report["redis"]), "" if report["redis"].get("appendonly") == "yes" else
          "(production needs appendonly yes; every accepted callback is then also written to the AOF)")
    phases = report["phases"]
    print(f"{'phase':<8} {'req/s':>7} {'DLRs/s':>7} {'slowest s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'errors':>6}  cores used (server drainer postgres redis generator other)")
    for name, f in phases.items():
        dlrs = f.get("dlrs_per_s", f["requests_per_s"] if name != "ceiling" else "")
        cores = f["cores_used"]
        print(f"{name:<8} {f['requests_per_s']:>7} {dlrs:>7} {f['slowest_second_requests']:>9} {f['p50_ms']:>7} "
              f"{f['p99_ms']:>7} {f['max_ms']:>7} {f['errors']:>6}  "
              + " ".join(f"{cores[k]:.2f}" for k in ("server", "drainer", "postgres", "redis", "generator", "other")))
    if "ceiling" in phases and "single" in phases:
        print(f"single DLR / ceiling: {phases['single']['requests_per_s'] / phases['ceiling']['requests_per_s']:.0%}")
    for name in ("single", "batch"):
        if name in phases:
            f = phases[name]
            print(f"{name}: drained {f['drain_lag_s']}s after the load (applied {f['applied_per_s']}/s overall, "
                  f"{f['applied_after_load_per_s'] or '-'}/s once the load stopped); "
                  f"stored {f['stored']}, lost {f['lost']}, unapplied {f['unapplied']}; "
                  f"counters = recount from raw events ({f['recount_s']}s): {f['counters_equal_recount']}; "
                  f"counters = expected: "
                  f"{f['counters_equal_expected']}")
            if "differences" in f:
                print("  differences:", json.dumps(f["differences"], default=str))
    for name, (passed, measured) in report["targets"].items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {measured}")


if __name__ == "__main__":
    sys.exit(main())
