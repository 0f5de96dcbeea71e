import logging
import signal
import time

import redis
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from callbacks import buffer
from callbacks.services import apply_pending

logger = logging.getLogger(__name__)

SWEEP_EVERY = 30.0  # seconds between retries of events waiting for their message


class Command(BaseCommand):
    help = ("Move buffered callbacks from Redis into the database and apply them. Run it as a long-running "
            "process wherever REDIS_URL is set, two or more for big broadcasts: one alone waits for PostgreSQL "
            "about half of the time, a second one fills that time. Stops cleanly on SIGTERM.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500, help="events per transaction")
        parser.add_argument("--linger", type=float, default=0.2,
                            help="seconds to let a short batch fill up before the next round")
        parser.add_argument("--once", action="store_true", help="drain what is there, then exit")

    def handle(self, *args, batch, linger, once, **options):
        if not buffer.enabled():
            raise CommandError("There is no Redis (CALLBACK_REDIS_URL, REDIS_URL): callbacks are applied as they "
                               "arrive, nothing to drain.")
        try:
            for warning in buffer.persistence_warnings():
                logger.warning(warning)
        except redis.RedisError:
            pass  # the loop below reports Redis being away, and retries
        self.stopping = False
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            moved = self._run(batch=batch, linger=linger, once=once)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(f"moved {moved} callback events")

    def _run(self, *, batch: int, linger: float, once: bool) -> int:
        consumer, moved, swept_at, failures = buffer.consumer_name(), 0, 0.0, 0
        while not self.stopping:
            try:
                close_old_connections()  # a long-lived process must notice a dropped database connection
                count = buffer.drain_once(consumer=consumer, count=batch, block_ms=0 if once else 1000)
                moved += count
                if time.monotonic() - swept_at > SWEEP_EVERY:
                    apply_pending()
                    swept_at = time.monotonic()
                failures = 0
            except Exception:
                if once:
                    raise
                # Redis or the database is away: what was read stays unacknowledged and is retried.
                failures += 1
                logger.exception("Draining callbacks failed; retrying")
                time.sleep(min(30, 2**failures))
                continue
            if once and count == 0:
                break
            if 0 < count < batch and not once:
                # Every transaction has a fixed cost (round trips, a commit that waits for the disk):
                # under a trickle, waiting a moment for a fuller batch spends far less CPU per event.
                time.sleep(linger)
        return moved

    def _stop(self, signum, frame):
        self.stopping = True
