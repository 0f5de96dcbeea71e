"""The bulk sending path: many requests at once, with a concurrency bound and a rate cap.

Why not `messaging.http.HttpClient` here: it is synchronous, and holding 500 requests in flight
(the concurrency a generic account may ask for, up to 1,000) would take 500 threads on a 2-core
worker. One asyncio loop over keep-alive connections (`wire.Pool`) does it in one thread, with
`concurrency` workers pulling jobs from a queue. The caller (campaigns.dispatch, in its own
thread) feeds jobs with `feed()` and takes each outcome as soon as it is known with `collect()`.

The policy is the same as the seam's and is stated once, in `classify` and `_send_one`:

* a provider's answer is classified by `transport.classify` (2xx sent, 4xx permanent, 5xx/429/408
  retried honouring Retry-After, 504 ambiguous);
* a failure before the request left (connection refused, connect timeout) is retried;
* a failure after it left (read timeout, connection dropped, 504) is *ambiguous*: retried only
  when the account says the provider de-duplicates by $$MessageID, otherwise reported as such
  and never resent blindly;
* backoff is exponential with full jitter, like the seam's; no attempt starts after `deadline`
  (the caller's time budget);
* when the quick retries run out, a request the provider certainly did not take (not sent,
  429, 503, 408, 425 — or anything, when it de-duplicates) is DEFERRED: its messages go back to
  be sent later instead of failing, because that is what a short outage looks like;
* an answer we cannot read (a 2xx that is not the JSON the account expects, or anything
  unforeseen once the request may have left) is AMBIGUOUS, never FAILED.

With `gated=True` a job that the rate cap and a free connection admit is not written yet: its key
comes out of `collect()` as a READY outcome, and it waits until the caller answers with `admit()`
(go: it is written now; no go: WITHDRAWN, never sent). campaigns.dispatch marks a message
"sending" there, so what a crash leaves "sending" is only what was on its way to the socket.
`ready=` takes those READY outcomes to a queue of their own, for a caller that answers them in
another thread than the one collecting the rest.

Only method, status and duration are logged, never URLs, headers or bodies (they carry keys).
"""

import asyncio
import logging
import math
import queue
import random
import threading
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from ..base import ProviderError, SendResult
from .ratelimit import RateLimiter, shared_book
from .request import Prepared
from .transport import classify
from .wire import NoAnswer, NotSent, Pool

logger = logging.getLogger(__name__)

SENT, FAILED, AMBIGUOUS, DEFERRED = "sent", "failed", "ambiguous", "deferred"
# Gated senders only: READY asks the caller for a go, WITHDRAWN ends a job refused one (never sent).
READY, WITHDRAWN = "ready", "withdrawn"
# Answers that say the provider did not process the request: repeating it cannot duplicate a message.
NOT_TAKEN_STATUSES = frozenset({408, 425, 429, 503})


@dataclass(slots=True)
class Outcome:
    kind: str  # SENT, FAILED, AMBIGUOUS, DEFERRED (gated: READY, WITHDRAWN)
    result: SendResult | None = None
    error: str = ""
    attempts: int = 1
    retry_after: float | None = None  # DEFERRED: how long the provider asked us to wait
    # For the provider's health (messaging.breaker): requests written, how many of them failed the
    # way a failing provider does (messaging.breaker.unhealthy), the last one's time, and whether
    # the last one failed that way.
    requests: int = 0
    errors: int = 0
    latency_ms: float | None = None
    unhealthy: bool = False


def not_taken(error: ProviderError) -> bool:
    return error.status in NOT_TAKEN_STATUSES or (error.status is None and not error.ambiguous)


def unhealthy(error: ProviderError) -> bool:
    """Whether a request failed the way a failing provider fails (what its circuit breaker counts):
    no answer or no connection, a timeout, 5xx, 429 — not an answer about this one message (4xx),
    nor a 2xx we could not read."""
    if error.status is None:
        return not error.permanent  # a refused address (the outbound guard) is ours, not the provider's
    return error.status >= 500 or error.status in (408, 429)


class AsyncSender:
    """Sends prepared requests on its own event loop thread; `feed()` and `collect()` are called from sync code."""

    def __init__(self, config, *, concurrency: int | None = None, rate: float | None = None,
                 max_attempts: int = 5, backoff_base: float = 0.25, backoff_cap: float = 20.0,
                 max_retry_after: float = 60.0, deadline: float = math.inf, gated: bool = False,
                 ready: queue.SimpleQueue | None = None):
        self.config = config
        self.concurrency = concurrency or config.max_concurrency
        self.rate = rate if rate is not None else config.rate_limit
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.deadline = deadline  # time.monotonic(); no attempt starts after it
        self.retry_ambiguous = bool(config.dedupes_message_id)
        self.gated = gated
        self.gates: dict[Hashable, asyncio.Future] = {}  # loop thread only
        # Messages whose request the rate cap has admitted (or that ended without that); written by
        # the loop thread only, so the caller can read how many it fed are still queued here.
        self.departed = 0
        self.outcomes: queue.SimpleQueue = queue.SimpleQueue()
        self.ready = self.outcomes if ready is None else ready  # gated: where READY outcomes go
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dispatch-loop", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._setup(), self.loop).result()

    async def _setup(self):
        self.limiter = RateLimiter(self.rate, shared_book(self.config.account_id) if self.rate else None)
        self.pool = Pool(size=self.concurrency, connect_timeout=5.0, read_timeout=float(self.config.timeout))
        self.jobs: asyncio.Queue = asyncio.Queue()
        # A fixed set of workers rather than a coroutine per job waiting on a semaphore: thousands
        # of parked coroutines cost more CPU than the requests themselves.
        self.workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]

    def feed(self, jobs: Iterable[tuple[Hashable, Prepared, int]]) -> None:
        """Queue `(key, request, messages in it)` jobs; each one's Outcome comes out of `collect()`."""
        self.loop.call_soon_threadsafe(_put_all, self.jobs, list(jobs))

    def collect(self, timeout: float, limit: int = 5000) -> list[tuple[Hashable, Outcome]]:
        """The outcomes known so far (waiting up to `timeout` seconds for the first one)."""
        try:
            found = [self.outcomes.get(timeout=max(0.0, timeout))]
        except queue.Empty:
            return []
        while len(found) < limit:
            try:
                found.append(self.outcomes.get_nowait())
            except queue.Empty:
                break
        return found

    def admit(self, keys: Iterable[Hashable], *, go: bool) -> None:
        """Answer READY outcomes: their requests are written now (go) or WITHDRAWN."""
        self.loop.call_soon_threadsafe(self._open, list(keys), go)

    def _open(self, keys: list, go: bool) -> None:
        for key in keys:
            gate = self.gates.get(key)
            if gate is not None and not gate.done():
                gate.set_result(go)

    async def _through_gate(self, key: Hashable) -> bool:
        gate = self.loop.create_future()
        self.gates[key] = gate
        self.ready.put((key, Outcome(READY)))
        try:
            return await gate
        finally:
            del self.gates[key]

    def take_back(self) -> list[tuple[Hashable, Prepared, int]]:
        """Remove and return the jobs fed that no worker has picked up yet: nothing of them was
        written, no Outcome comes for them, and `departed` does not count them."""
        return asyncio.run_coroutine_threadsafe(self._take_back(), self.loop).result()

    async def _take_back(self) -> list:
        taken = []
        while not self.jobs.empty():
            taken.append(self.jobs.get_nowait())
        return taken

    def stop_retrying(self) -> None:
        """From now on a job that needs another attempt is DEFERRED instead."""
        self.deadline = time.monotonic()

    def close(self) -> None:
        """Stop: requests still in flight are abandoned (their messages stay "sending", see dispatch)."""
        if not self.loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(timeout=10)
        except Exception:
            logger.warning("Closing the dispatch loop failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _shutdown(self):
        current = asyncio.current_task()
        others = [task for task in asyncio.all_tasks() if task is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        self.pool.close()
        await self.limiter.close()

    async def _work(self):
        while True:
            key, request, size = await self.jobs.get()
            try:
                outcome = await self._send_one(key, request, size)
            except Exception as exc:
                # A bug or an unforeseen input costs this job only, never the others in flight.
                logger.exception("Sending a job failed unexpectedly")
                outcome = Outcome(FAILED, error=f"Not sent: {type(exc).__name__}: {exc}"[:2000])
            self.outcomes.put((key, outcome))

    async def _send_one(self, key: Hashable, request: Prepared, size: int) -> Outcome:
        departed = False
        health = Outcome("")  # what the requests written for this job told about the provider

        def done(kind: str, **fields) -> Outcome:
            return Outcome(kind, attempts=attempt, requests=health.requests, errors=health.errors,
                           latency_ms=health.latency_ms, unhealthy=health.unhealthy, **fields)

        try:
            attempt = 0
            while True:
                attempt += 1
                await self.limiter.acquire(size)
                if time.monotonic() > self.deadline:
                    return done(DEFERRED, error="Out of time in this run; sent in the next one.")
                if not departed:
                    departed = True
                    self.departed += size
                    if self.gated and not await self._through_gate(key):
                        return done(WITHDRAWN)
                started = time.monotonic()
                health.requests += 1
                try:
                    result = await self._request(request)
                except ProviderError as exc:
                    error = exc
                else:
                    health.latency_ms, health.unhealthy = (time.monotonic() - started) * 1000, False
                    return done(SENT, result=result)
                health.latency_ms = (time.monotonic() - started) * 1000
                health.unhealthy = unhealthy(error)
                health.errors += health.unhealthy
                if error.permanent:
                    return done(FAILED, error=str(error))
                if error.ambiguous and not self.retry_ambiguous:
                    return done(AMBIGUOUS, error=str(error))
                delay = error.retry_after
                if delay is None:
                    delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
                if attempt < self.max_attempts and delay <= self.max_retry_after and \
                        time.monotonic() + delay < self.deadline:
                    await asyncio.sleep(delay)
                    continue
                if not_taken(error) or self.retry_ambiguous:
                    return done(DEFERRED, error=str(error), retry_after=error.retry_after)
                return done(FAILED, error=str(error))
        finally:
            if not departed:
                self.departed += size

    async def _request(self, request: Prepared) -> SendResult:
        started = time.monotonic()
        try:
            response = await self.pool.request(request.method, request.url, request.headers, request.body)
        except NotSent as exc:
            raise ProviderError(f"Could not reach the provider: {exc}", permanent=exc.permanent) from None
        except NoAnswer as exc:
            raise ProviderError(f"No answer after sending ({exc}); it may have been sent", ambiguous=True) from None
        status, headers, raw = response.status, response.headers, response.body
        elapsed = (time.monotonic() - started) * 1000
        logger.debug("%s %s %.0f ms", request.method, status, elapsed)
        try:
            return classify(self.config, status, headers, raw.decode("utf-8", "replace"), elapsed_ms=elapsed)
        except ProviderError:
            raise
        except Exception as exc:
            # It was sent and answered: whatever we failed to read, the message may have gone out,
            # so it is "unknown", never "failed" (which a resend of failed messages would repeat).
            logger.exception("Reading a provider's answer failed unexpectedly")
            raise ProviderError(f"Unreadable answer ({type(exc).__name__}); it may have been sent",
                                ambiguous=True, status=status) from None


def _put_all(jobs: asyncio.Queue, items: list) -> None:
    for item in items:
        jobs.put_nowait(item)
