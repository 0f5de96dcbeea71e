import json

from django.core.management.base import BaseCommand, CommandError

from callbacks import buffer, selectors


class Command(BaseCommand):
    help = "Compare every broadcast's counters with a recount from its messages and clicks; exit 1 on a difference."

    def add_arguments(self, parser):
        parser.add_argument("--broadcast", type=int, action="append", help="broadcast id (repeatable)")

    def handle(self, *args, broadcast=None, **options):
        found = selectors.mismatches(broadcast)
        pending = sum(selectors.pending_counts().values())
        self.stdout.write(f"pending events: {pending}, waiting in Redis: {buffer.backlog()}")
        if found:
            self.stdout.write(json.dumps(found, indent=2, default=str))
            raise CommandError(f"{len(found)} counter(s) differ from the recount.")
        self.stdout.write("counters match the recount")
