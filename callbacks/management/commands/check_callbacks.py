import json

import redis
from django.core.management.base import BaseCommand, CommandError

from callbacks import buffer, selectors


class Command(BaseCommand):
    help = ("Compare every broadcast's counters with a recount from the raw callback events; exit 1 on a "
            "difference. Also warns when the callbacks' Redis could lose accepted events.")

    def add_arguments(self, parser):
        parser.add_argument("--broadcast", type=int, action="append", help="broadcast id (repeatable)")

    def handle(self, *args, broadcast=None, **options):
        if buffer.enabled():
            try:
                for warning in buffer.persistence_warnings():
                    self.stderr.write(f"warning: {warning}")
            except redis.RedisError as exc:
                self.stderr.write(f"warning: cannot reach the callbacks' Redis ({exc})")
        found = selectors.mismatches(broadcast)
        pending = sum(selectors.pending_counts().values())
        try:
            backlog = buffer.backlog()
        except redis.RedisError:
            backlog = "unknown"
        self.stdout.write(f"pending events: {pending}, waiting in Redis: {backlog}")
        if found:
            self.stdout.write(json.dumps(found, indent=2, default=str))
            raise CommandError(f"{len(found)} counter(s) differ from the recount.")
        self.stdout.write("counters match the recount from the raw events")
