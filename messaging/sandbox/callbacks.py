"""Outgoing callbacks from one background thread: a message's life after it was accepted.

Each message's fate (final status, whether it is clicked, whether its callback is duplicated) is
drawn from the seeded RNG when it is created, in the request thread, so a test run repeats exactly;
the thread only carries the fates out on time: it updates the message's state, POSTs the
single-message DLR and click callbacks, and batches "DLR to webhook" posts per broadcast.

Faults a receiver must survive: every callback (DLR, webhook batch, click) may be posted twice
(`duplicate_rate`) and late by a random extra delay (`jitter_ms`, which shuffles callbacks of every
kind and message, a duplicate included); the final DLR may come before ENROUTE (`out_of_order`)
and a click before any DLR (`click_before_dlr`).
"""

import heapq
import itertools
import random
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable

import requests

from .errors import ApiError
from .state import Store
from .validation import boolean, integer, iso, now, url

# DLR status words and their ids, from the reference's fast single section.
STATES = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
    "FAILED": 9,
}
FINAL_STATUSES = set(STATES) - {"ENROUTE"}
# pduDLR counter names (the reference lists sent/delivered/undelivered/rejected/expired).
PDU_COUNTERS = {
    2: "delivered_count",
    3: "expired_count",
    5: "undelivered_count",
    8: "rejected_count",
    9: "failed_count",
}

DEFAULTS = {
    "delay_ms": 200,  # from acceptance (or send date) to the final DLR
    "statuses": {"DELIVRD": 0.9, "UNDELIV": 0.04, "EXPIRED": 0.03, "REJECTD": 0.02, "FAILED": 0.01},
    "enroute": False,  # send an ENROUTE (state 1) DLR half way
    "duplicate_rate": 0.0,  # share of callbacks (DLRs, webhook batches, clicks) posted twice
    "out_of_order": False,  # with enroute: the final DLR first, ENROUTE after it
    "jitter_ms": 0,  # each callback posted after a random extra 0..jitter_ms: every kind shuffled
    "click_rate": 0.0,  # share of delivered messages with a link that get clicked
    "click_before_dlr": False,  # clicked messages are clicked before their DLRs are sent
    "callback_url": None,  # account-level DLR URL (portal "Callback" setting) for /sms without callback
    "click_url": None,  # where clicks go; default: the message's callback URL, then callback_url
    "dlr_webhook_url": None,  # "DLR to webhook" (configured by MessageWhiz staff, hence only here)
    "batch_size": 100,  # dlrs per webhook post
    "webhook_flush_ms": 100,  # how long a partial batch waits for more DLRs
    "timeout_s": 5.0,  # per outgoing POST
    "seed": None,  # re-seeds the sandbox RNG
}


def validate_config(raw: dict) -> dict:
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ApiError(400, f"unknown callback settings: {', '.join(unknown)}")
    config = {**DEFAULTS, **raw}
    config["delay_ms"] = integer(config["delay_ms"], "delay_ms", minimum=0)
    config["batch_size"] = integer(config["batch_size"], "batch_size", minimum=1)
    config["webhook_flush_ms"] = integer(config["webhook_flush_ms"], "webhook_flush_ms", minimum=0)
    config["jitter_ms"] = integer(config["jitter_ms"], "jitter_ms", minimum=0)
    for key in ("enroute", "out_of_order", "click_before_dlr"):
        config[key] = boolean(config[key], key)
    for key in ("duplicate_rate", "click_rate", "timeout_s"):
        if not isinstance(config[key], int | float) or isinstance(config[key], bool) or config[key] < 0:
            raise ApiError(400, f"{key} must be a non-negative number")
    for key in ("callback_url", "click_url", "dlr_webhook_url"):
        config[key] = url(config[key], key, required=False)
    statuses = config["statuses"]
    if (
        not isinstance(statuses, dict)
        or not statuses
        or set(statuses) - FINAL_STATUSES
        or any(not isinstance(w, int | float) or w < 0 for w in statuses.values())
        or sum(statuses.values()) <= 0
    ):
        raise ApiError(
            400,
            f"statuses must map final statuses ({', '.join(sorted(FINAL_STATUSES))}) to non-negative weights",
        )
    if config["seed"] is not None:
        config["seed"] = integer(config["seed"], "seed")
    return config


def weighted(weights: dict[str, float], draw: float) -> str:
    total = sum(weights.values())
    threshold = draw * total
    for status, weight in weights.items():
        threshold -= weight
        if threshold < 0:
            return status
    return next(status for status, weight in reversed(weights.items()) if weight > 0)


def dlr_body(message: dict, status: str) -> dict:
    """The reference's "Example DLR Callback"."""
    return {
        "message_id": message["message_id"],
        "sender": message["sender"],
        "recipient": message["recipient"],
        "content": message["content"],
        "state": STATES[status],
        "status": status,
        "client_ref": message["client_ref"],
        "timestamp": message["created"],
        "parts_count": message["parts_count"],
        "price": message["price"],
        "parts": [{**part, "status": status} for part in message["parts"]],
    }


class Dispatcher:
    def __init__(self, store: Store):
        self.store = store
        self.config = dict(DEFAULTS)
        self.log: deque[dict] = deque(maxlen=20000)
        self.on_click: Callable[[dict], None] | None = None  # set by the broadcasts (CTR smart broadcasts)
        self.session = requests.Session()
        self._heap: list = []
        self._seq = itertools.count()
        self._generation = 0  # bumped by reset: older scheduled events and callback attempts are void
        self._running: int | None = None  # generation of the event being run
        self._inflight = 0  # events taken from the heap and not finished
        self._cond = threading.Condition()
        self._run_lock = threading.Lock()  # one event at a time, also when drained from a request
        self._webhook: dict[int, list[str]] = {}  # broadcast id → message ids awaiting a webhook post
        self._seed_fates(store.seed)
        threading.Thread(target=self._loop, name="sandbox-callbacks", daemon=True).start()

    # configuration -------------------------------------------------------------------------------
    def configure(self, raw: dict) -> dict:
        config = validate_config(raw)
        self.config = config
        if config["seed"] is not None:
            self.store.reseed(config["seed"])
            self._seed_fates(config["seed"])
        return config

    def _seed_fates(self, seed: int) -> None:
        # One RNG per kind of decision: the n-th message's status does not depend on how many ids
        # or links were drawn before it, nor on the click and duplicate settings.
        self.fates = {
            kind: random.Random(f"{seed}:{kind}")
            for kind in ("status", "click", "duplicate", "click_duplicate", "jitter")
        }

    def reset(self) -> None:
        with self._cond:
            self._heap.clear()
            self._generation += 1
        # Wait for the callback being posted now, if any: once reset answers, nothing more arrives
        # (a test's database may be emptied right after).
        with self._run_lock:
            pass
        with self.store.lock:
            self._webhook.clear()
        self.log.clear()
        self.config = dict(DEFAULTS)
        self._seed_fates(self.store.seed)

    # scheduling ----------------------------------------------------------------------------------
    def schedule(self, at: float, event: Callable, *args) -> None:
        with self._cond:
            heapq.heappush(self._heap, (at, next(self._seq), self._generation, event, args))
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.time():
                    timeout = self._heap[0][0] - time.time() if self._heap else None
                    self._cond.wait(timeout)
                item = self._take()
            self._run(item)

    def _take(self):
        """Pop the next event (condition held); `_run` reports it done."""
        self._inflight += 1
        return heapq.heappop(self._heap)

    def _run(self, item) -> None:
        _, _, generation, event, args = item
        try:
            with self._run_lock:
                if generation != self._generation:
                    return
                self._running = generation
                try:
                    event(*args)
                except Exception:
                    traceback.print_exc(file=sys.stderr)
                finally:
                    self._running = None
        finally:
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()

    def drain(self, limit: int = 1_000_000) -> int:
        """Run every pending event now, due or not, and wait for the one the background thread may be
        running (control endpoint: tests need not wait for delays)."""
        count = 0
        while count < limit:
            with self._cond:
                if not self._heap and self._inflight:
                    self._cond.wait(0.05)
                    continue
                if not self._heap:
                    break
                item = self._take()
            self._run(item)
            count += 1
        return count

    # a message's life ----------------------------------------------------------------------------
    def plan(self, message: dict, start_at: float | None = None, wait_for_trigger: bool = False) -> None:
        """Draw the message's fate (store lock held) and schedule it."""
        config = self.config
        status_draw, click_draw, duplicate_draw = (
            self.fates[kind].random() for kind in ("status", "click", "duplicate")
        )
        status = weighted(config["statuses"], status_draw)
        message["planned"] = {
            "status": status,
            "click": status == "DELIVRD" and bool(message["links"]) and click_draw < config["click_rate"],
            "duplicate": duplicate_draw < config["duplicate_rate"],
        }
        if not wait_for_trigger:
            self.release(message, start_at)

    def release(self, message: dict, start_at: float | None = None) -> None:
        current = time.time()
        start = max(start_at or current, current)
        if start <= current:
            self._mark_sent(message)
        else:
            self.schedule(start, self._sent_event, message["message_id"])
        delay = self.config["delay_ms"] / 1000
        final_at, enroute_at = start + delay, start + delay / 2
        if self.config["out_of_order"]:
            final_at, enroute_at = enroute_at, final_at
        if message["planned"]["click"]:
            # Scheduled first, so that with no delay at all it still comes before the DLRs.
            before = self.config["click_before_dlr"]
            click_at = start + delay / 4 if before else start + delay + max(delay / 2, 0.01)
            self.schedule(click_at, self._click_event, message["message_id"])
        if self.config["enroute"]:
            self.schedule(enroute_at, self._enroute_event, message["message_id"])
        self.schedule(final_at, self._final_event, message["message_id"])

    @staticmethod
    def _mark_sent(message: dict) -> None:
        if message["state"] is None:
            message["state"], message["status"] = 0, "SENT"

    def _message(self, message_id: str) -> dict | None:
        return self.store.data["messages"].get(message_id)

    def _sent_event(self, message_id: str) -> None:
        with self.store.lock:
            message = self._message(message_id)
            if message:
                self._mark_sent(message)

    def _dlr_url(self, message: dict) -> str | None:
        if message["source"] != "sms":
            return None  # broadcasts report through the DLR to webhook only
        return message["callback"] or self.config["callback_url"]

    def _enroute_event(self, message_id: str) -> None:
        with self.store.lock:
            message = self._message(message_id)
            if message is None:
                return
            if message["state"] in (None, 0):
                message["state"], message["status"] = 1, "ENROUTE"
            body, target = dlr_body(message, "ENROUTE"), self._dlr_url(message)
        if target:
            self.deliver("dlr", target, body)

    def _final_event(self, message_id: str) -> None:
        with self.store.lock:
            message = self._message(message_id)
            if message is None:
                return
            status = message["planned"]["status"]
            moment = now()
            message.update(
                state=STATES[status],
                status=status,
                updated=iso(moment),
                updated_ms=int(moment.timestamp() * 1000),
            )
            broadcast = self.store.get("broadcasts", message["broadcast_id"])
            if broadcast is not None and status == "DELIVRD":
                broadcast["real_price"] = round(broadcast.get("real_price", 0) + message["price"], 2)
            body, target = dlr_body(message, status), self._dlr_url(message)
            if self.config["dlr_webhook_url"]:
                self._buffer(message)
            duplicate = message["planned"]["duplicate"]
        if target:
            self.deliver("dlr", target, body, duplicate)

    def _click_event(self, message_id: str) -> None:
        self.click(message_id)

    def click(self, message_id: str, link_index: int = 0) -> dict | None:
        """Record a click on one of the message's links and send the click callback."""
        with self.store.lock:
            message = self._message(message_id)
            if message is None or not message["links"]:
                return None
            link = message["links"][min(link_index, len(message["links"]) - 1)]
            unique = not link.get("clicked")
            link["clicked"] = True
            message["clicks"] += 1
            if unique and message["unique_clicks"] == 0:
                message["unique_clicks"] = 1
            body = {
                "message_id": message_id,
                "link_id": link["short"],
                "time": iso(now()),
                "unique_click": unique,
            }
            self.store.add(
                "clicks",
                {
                    **body,
                    "url": link["url"],
                    "broadcast_id": message["broadcast_id"],
                    "link_object_id": link.get("link_id"),
                    "link_list_id": link.get("link_list_id"),
                },
            )
            target = self.config["click_url"] or message["callback"] or self.config["callback_url"]
            duplicate = self.fates["click_duplicate"].random() < self.config["duplicate_rate"]
            if self.on_click is not None:
                self.on_click(message)
        if target:
            self.deliver("click", target, body, duplicate)
        return body

    # DLR to webhook ------------------------------------------------------------------------------
    def _buffer(self, message: dict) -> None:
        pending = self._webhook.setdefault(message["broadcast_id"], [])
        pending.append(message["message_id"])
        if len(pending) >= self.config["batch_size"]:
            self.schedule(0, self._flush_event, message["broadcast_id"])
        elif len(pending) == 1:
            self.schedule(
                time.time() + self.config["webhook_flush_ms"] / 1000,
                self._flush_event,
                message["broadcast_id"],
            )

    def _flush_event(self, broadcast_id: int) -> None:
        posts = []
        with self.store.lock:
            pending = self._webhook.pop(broadcast_id, [])
            target = self.config["dlr_webhook_url"]
            size = self.config["batch_size"]
            broadcast = self.store.get("broadcasts", broadcast_id) or {}
            for offset in range(0, len(pending), size):
                messages = [m for m in map(self._message, pending[offset : offset + size]) if m]
                if messages:
                    duplicate = self.fates["duplicate"].random() < self.config["duplicate_rate"]
                    posts.append((self._webhook_body(broadcast, messages), duplicate))
        for body, duplicate in posts:
            if target:
                self.deliver("dlr_webhook", target, body, duplicate)

    @staticmethod
    def _webhook_body(broadcast: dict, messages: list[dict]) -> dict:
        """The reference's "DLR to webhook" body: dlrs, custom_parameter when the broadcast (or
        /sms client_ref) has one, pduDLR for singles and tiny singles (zero counters left out)."""
        body: dict = {
            "dlrs": [
                {
                    "segment_id": m["segment_id"],
                    "_id": m["_id"],
                    "broadcast_id": m["broadcast_id"],
                    "recipient": m["recipient"],
                    "price": m["price"],
                    "task_state": m["state"],
                    "updated": m.get("updated_ms"),
                }
                for m in messages
            ]
        }
        if broadcast.get("custom_parameter"):
            body["custom_parameter"] = broadcast["custom_parameter"]
        if broadcast.get("type") == 10:
            # decision: sent_count counts every PDU submitted, the others PDUs per final status
            counts = {"sent_count": sum(m["parts_count"] for m in messages)}
            for m in messages:
                counter = PDU_COUNTERS.get(m["state"])
                if counter:
                    counts[counter] = counts.get(counter, 0) + m["parts_count"]
            body["pduDLR"] = counts
        return body

    # outgoing HTTP -------------------------------------------------------------------------------
    def deliver(self, kind: str, target: str, body: dict, duplicate: bool = False) -> None:
        """Post the callback (twice if `duplicate`), each post delayed by its own jitter if set."""
        for _ in range(2 if duplicate else 1):
            jitter = self.config["jitter_ms"] / 1000
            if jitter:
                self.schedule(time.time() + self.fates["jitter"].random() * jitter, self.post, kind, target, body)
            else:
                self.post(kind, target, body)

    def post(self, kind: str, target: str, body: dict) -> None:
        generation = self._running if self._running is not None else self._generation
        entry = {"time": iso(now()), "kind": kind, "url": target, "body": body, "status": None, "error": None}
        started = time.perf_counter()
        try:
            response = self.session.post(target, json=body, timeout=(2, self.config["timeout_s"]))
            entry["status"] = response.status_code
        except requests.RequestException as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if generation == self._generation:  # a reset meanwhile: the attempt belongs to no test
            self.log.append(entry)
