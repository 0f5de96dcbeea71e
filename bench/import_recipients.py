"""Benchmark the recipient-list import end to end, against a bare PostgreSQL COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/textcast_bench \\
        .venv/bin/python bench/import_recipients.py --rows 1000000

Creates the database and its tables if needed, generates a CSV (--rows rows: phone, first name,
last name, custom; ~1% invalid numbers, ~0.5% duplicates) and an XLSX (--xlsx-rows rows, phones
stored as numbers) in a temporary directory, and runs the real import service on each in a fresh
process (so peak RSS is the import's own). Then it COPYs the same accepted rows into the same
table under a new list — the ceiling no import can beat — and prints the ratio; for the XLSX, the
ceiling is calamine reading the same sheet alone. Each import's counts are checked against what
the generator made, and the list's rows recounted.
"""

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Goals of issue 15.
CSV_TARGET_RATIO = 0.80  # of bare COPY
XLSX_TARGET_RATE = 150_000  # rows/s
RSS_LIMIT_MB = 400

FIRST = ["Anna", "Ivan", "Olena", "Taras", "Maria", "John", "Zoë", "José", "Ольга", "Андрій", "Li", "Sam"]
LAST = ["Shevchenko", "Smith", "Kowalski", "Müller", "García", "Петренко", "O'Brien", "Nguyen", "Rossi"]
# (calling code + leading digits, total length): mobile ranges of several countries, chosen so
# that random completions are valid numbers (the invalid 1% is added on purpose).
PREFIXES = [
    ("38050", 12), ("38067", 12), ("38063", 12), ("38093", 12), ("38097", 12), ("38099", 12),
    ("447400", 12), ("447800", 12), ("49151", 13), ("4917", 13), ("48601", 11), ("48512", 11),
    ("33612", 11), ("34612", 11), ("9198", 12), ("7916", 11), ("12025", 11), ("14155", 11),
]


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(url: str) -> None:
    """CREATE DATABASE if the URL's database doesn't exist yet."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    params = {"host": config.get("HOST") or None, "port": config.get("PORT") or None,
              "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def phone(rnd: random.Random) -> str:
    prefix, length = rnd.choice(PREFIXES)
    return prefix + str(rnd.randrange(10 ** (length - len(prefix)))).zfill(length - len(prefix))


def rows(count: int, seed: int):
    """(phone, first, last, custom) rows; ~1% invalid phones, ~0.5% repeats of earlier ones."""
    rnd = random.Random(seed)
    recent: list[str] = []
    for index in range(count):
        roll = rnd.random()
        if roll < 0.01:
            number = rnd.choice(["12345", "not a number", "38012345", "+999123456789", ""])
        elif roll < 0.015 and recent:
            number = rnd.choice(recent)
        else:
            number = phone(rnd)
            if index % 97 == 0:
                recent.append(number)
        yield number, rnd.choice(FIRST), rnd.choice(LAST), f"order-{index}"


def expected(count: int, seed: int) -> dict:
    """The counts an import of rows(count, seed) must report: the invalid-number rows are wrong,
    a number seen on an earlier row (a planted repeat, or a random one drawn twice) a duplicate."""
    rnd_rows = rows(count, seed)
    invalid = {"12345", "not a number", "38012345", "+999123456789", ""}
    seen: set[str] = set()
    wrong = duplicate = 0
    for number, *_rest in rnd_rows:
        if number in invalid:
            wrong += 1
        elif number in seen:
            duplicate += 1
        else:
            seen.add(number)
    return {"inserted": len(seen), "total": count, "wrong": wrong, "duplicate": duplicate}


def write_csv(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["phone", "first name", "last name", "custom"])
        writer.writerows(rows(count, seed=1))


def write_xlsx(path: Path, count: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Contacts")
    sheet.append(["phone", "first name", "last name", "custom"])
    for number, first, last, custom in rows(count, seed=2):
        # Phones as numbers, as Excel keeps them when a column isn't formatted as text.
        sheet.append([int(number) if number.isdigit() else number, first, last, custom])
    workbook.save(path)


def measure(path: str, list_name: str) -> dict:
    """Run one import in this (fresh) process and report time and peak memory."""
    setup_django()
    from messaging.models import ProviderAccount
    from recipients.services import import_job_create, recipient_list_import

    account, _ = ProviderAccount.objects.get_or_create(name="Bench", defaults={"api_key": "bench"})
    mapping = {"0": "phone_number", "1": "first_name", "2": "last_name", "3": "custom"}
    start = time.perf_counter()
    job = import_job_create(account=account, upload=path, mapping=mapping, name=list_name, enqueue=False)
    job = recipient_list_import(job_id=job.pk)
    elapsed = time.perf_counter() - start
    if job.status != job.Status.SUCCEEDED:
        raise SystemExit(f"import failed: {job.error}")
    from recipients.models import Recipient

    return {
        "recount": Recipient.objects.filter(recipient_list_id=job.recipient_list_id).count(),
        "counter": job.recipient_list.recipient_count,
        "seconds": elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "result": job.result,
        "list_id": job.recipient_list_id,
    }


def bare_copy(list_id: int) -> dict:
    """COPY the rows the import loaded, as ready-made text, into the same table (a new list)."""
    setup_django()
    from django.db import connection, transaction

    from messaging.models import ProviderAccount
    from recipients.models import Recipient, RecipientList

    table = Recipient._meta.db_table
    columns = "recipient_list_id, phone, first_name, last_name, custom"
    with tempfile.TemporaryFile("w+b") as data:
        with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY (SELECT phone, first_name, last_name, custom FROM {table} "  # noqa: S608
            f"WHERE recipient_list_id = {int(list_id)}) TO STDOUT"
        ) as copy:
            for block in copy:
                data.write(block)
        account = ProviderAccount.objects.get(name="Bench")
        target = RecipientList.objects.create(account=account, name="bare COPY")
        prefix = f"{target.pk}\t".encode()
        data.seek(0)
        lines = [prefix + line for line in data]
    start = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for index in range(0, len(lines), 10_000):
            copy.write(b"".join(lines[index : index + 10_000]))
    elapsed = time.perf_counter() - start
    return {"rows": len(lines), "seconds": elapsed}


def calamine_read(path: str) -> dict:
    """The XLSX ceiling: calamine opening the workbook and yielding every row, nothing else."""
    import python_calamine

    start = time.perf_counter()
    workbook = python_calamine.CalamineWorkbook.from_path(path)
    count = sum(1 for _row in workbook.get_sheet_by_index(0).iter_rows())
    return {"rows": count - 1, "seconds": time.perf_counter() - start}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def check(run: dict, want: dict) -> bool:
    """Print the correctness line of one import; True if its counts are the generator's."""
    got = {key: run["result"][key] for key in want}
    ok = got == want and run["recount"] == run["counter"] == want["inserted"]
    print(f"  correctness: result {got}, expected {want}; list rows recounted {run['recount']:,}, "
          f"list counter {run['counter']:,} -> {verdict(ok)}")
    return ok


def child(*args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV rows")
    parser.add_argument("--xlsx-rows", type=int, default=200_000, help="XLSX rows (0 to skip)")
    parser.add_argument("--measure", nargs=2, metavar=("FILE", "LIST"), help=argparse.SUPPRESS)
    parser.add_argument("--bare-copy", type=int, metavar="LIST_ID", help=argparse.SUPPRESS)
    parser.add_argument("--calamine", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.bare_copy:
        print(json.dumps(bare_copy(args.bare_copy)))
        return
    if args.calamine:
        print(json.dumps(calamine_read(args.calamine)))
        return

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/textcast_bench")
    with tempfile.TemporaryDirectory(prefix="textcast-bench-") as tmp:
        os.environ["MEDIA_ROOT"] = str(Path(tmp) / "media")
        ensure_database(url)
        setup_django()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        from campaigns.models import Message
        from recipients.models import (
            ConsentEvent,
            ImportJob,
            Recipient,
            RecipientList,
            Suppression,
            UnsubscribeList,
            UnsubscribeNumber,
        )

        # Each run starts from empty tables, so runs are comparable: the consent ledger too, so
        # every run is a first import of its numbers (an opt-in row each, as in production).
        # CASCADE takes the broadcasts made from the lists along; their messages are named too,
        # the message table has no foreign-key constraints (campaigns.models.Message).
        tables = [model._meta.db_table for model in (Recipient, ImportJob, RecipientList, UnsubscribeNumber,
                                                      UnsubscribeList, Suppression, ConsentEvent, Message)]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            cursor.execute(f"VACUUM ANALYZE {Recipient._meta.db_table}")
        connection.close()

        csv_path = Path(tmp) / "recipients.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.rows)
        print(f"generated {args.rows:,}-row CSV ({csv_path.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - started:.1f}s")
        xlsx_path = Path(tmp) / "recipients.xlsx"
        if args.xlsx_rows:
            started = time.perf_counter()
            write_xlsx(xlsx_path, args.xlsx_rows)
            print(f"generated {args.xlsx_rows:,}-row XLSX ({xlsx_path.stat().st_size / 1e6:.0f} MB) "
                  f"in {time.perf_counter() - started:.1f}s")

        passed = True
        run = child("--measure", str(csv_path), "bench csv")
        rate = args.rows / run["seconds"]
        print(f"CSV  import: {args.rows:,} rows in {run['seconds']:.2f}s = {rate:,.0f} rows/s, "
              f"peak RSS {run['peak_rss_mb']:.0f} MB, result {run['result']}")
        passed &= check(run, expected(args.rows, seed=1))
        ceiling = child("--bare-copy", str(run["list_id"]))
        copy_rate = ceiling["rows"] / ceiling["seconds"]
        print(f"  ceiling, bare COPY: {ceiling['rows']:,} rows in {ceiling['seconds']:.2f}s = {copy_rate:,.0f} "
              f"rows/s (same rows, same indexed table)")
        ratio = rate / copy_rate
        ok = ratio >= CSV_TARGET_RATIO and run["peak_rss_mb"] <= RSS_LIMIT_MB
        passed &= ok
        print(f"  import / bare COPY = {ratio:.2f} (target >= {CSV_TARGET_RATIO:.2f}), peak RSS "
              f"{run['peak_rss_mb']:.0f} MB (target <= {RSS_LIMIT_MB}) -> {verdict(ok)}")
        if args.xlsx_rows:
            run = child("--measure", str(xlsx_path), "bench xlsx")
            rate = args.xlsx_rows / run["seconds"]
            print(f"XLSX import: {args.xlsx_rows:,} rows in {run['seconds']:.2f}s = {rate:,.0f} rows/s, "
                  f"peak RSS {run['peak_rss_mb']:.0f} MB, result {run['result']}")
            passed &= check(run, expected(args.xlsx_rows, seed=2))
            ceiling = child("--calamine", str(xlsx_path))
            read_rate = ceiling["rows"] / ceiling["seconds"]
            print(f"  ceiling, calamine alone: {ceiling['rows']:,} rows in {ceiling['seconds']:.2f}s = "
                  f"{read_rate:,.0f} rows/s; import / calamine = {rate / read_rate:.2f}")
            ok = rate >= XLSX_TARGET_RATE and run["peak_rss_mb"] <= RSS_LIMIT_MB
            passed &= ok
            print(f"  {rate:,.0f} rows/s (target >= {XLSX_TARGET_RATE:,}), peak RSS {run['peak_rss_mb']:.0f} MB "
                  f"(target <= {RSS_LIMIT_MB}) -> {verdict(ok)}")
        print(f"import_recipients: {verdict(passed)}")

if __name__ == "__main__":
    main()
