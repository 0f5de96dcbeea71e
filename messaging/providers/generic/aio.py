"""The bulk sending path: many requests at once, with a concurrency bound and a rate cap.

Why not `messaging.http.HttpClient` here: it is synchronous, and holding 500 requests in flight
(the concurrency a generic account may ask for, up to 1,000) would take 500 threads on a 2-core
worker. One asyncio loop over keep-alive connections (`wire.Pool`) does it in one thread. The
policy is the same as the seam's and is stated once, in `classify` and `_send_one`:

* a provider's answer is classified by `transport.classify` (2xx sent, 4xx permanent, 5xx/429/408
  retried honouring Retry-After);
* a failure before the request left (connection refused, connect timeout) is retried;
* a failure after it left (read timeout, connection dropped) is *ambiguous*: retried only when the
  account says the provider de-duplicates by $$MessageID, otherwise reported as such and never
  resent blindly;
* backoff is exponential with full jitter, like the seam's.

Only method, status and duration are logged, never URLs, headers or bodies (they carry keys).
"""

import asyncio
import logging
import random
import threading
import time
from collections.abc import Hashable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass

from ..base import ProviderError, SendResult
from .ratelimit import RateLimiter, shared_book
from .request import Prepared
from .transport import classify
from .wire import NoAnswer, NotSent, Pool

logger = logging.getLogger(__name__)

SENT, FAILED, AMBIGUOUS = "sent", "failed", "ambiguous"


@dataclass(slots=True)
class Outcome:
    kind: str  # SENT, FAILED or AMBIGUOUS
    result: SendResult | None = None
    error: str = ""
    attempts: int = 1


class AsyncSender:
    """Sends prepared requests on its own event loop thread; `submit()` is called from sync code."""

    def __init__(self, config, *, concurrency: int | None = None, rate: float | None = None,
                 max_attempts: int = 5, backoff_base: float = 0.25, backoff_cap: float = 20.0,
                 max_retry_after: float = 60.0):
        self.config = config
        self.concurrency = concurrency or config.max_concurrency
        self.rate = rate if rate is not None else config.rate_limit
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.retry_ambiguous = bool(config.dedupes_message_id)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dispatch-loop", daemon=True)
        self.thread.start()
        self._call(self._setup()).result()

    async def _setup(self):
        self.limiter = RateLimiter(self.rate, shared_book(self.config.account_id) if self.rate else None)
        self.slots = asyncio.Semaphore(self.concurrency)
        self.pool = Pool(size=self.concurrency, connect_timeout=5.0, read_timeout=float(self.config.timeout))

    def _call(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def submit(self, jobs: Iterable[tuple[Hashable, Prepared, int]]) -> Future:
        """Start sending `(key, request, messages in it)` jobs; the future gives {key: Outcome}."""
        return self._call(self._send_all(list(jobs)))

    def close(self) -> None:
        """Stop: requests still in flight are abandoned (their messages stay claimed, see dispatch)."""
        if not self.loop.is_running():
            return
        try:
            self._call(self._shutdown()).result(timeout=10)
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

    async def _send_all(self, jobs) -> dict:
        # A fixed set of workers pulling from the chunk, rather than a coroutine per job waiting on
        # the semaphore: thousands of parked coroutines cost more CPU than the requests themselves.
        results: dict = {}
        pending = iter(jobs)

        async def work():
            for key, request, size in pending:
                results[key] = await self._send_one(request, size)

        await asyncio.gather(*(work() for _ in range(min(self.concurrency, len(jobs)))))
        return results

    async def _send_one(self, request: Prepared, size: int) -> Outcome:
        attempt = 0
        while True:
            attempt += 1
            async with self.slots:
                # The rate slot is taken once a connection slot is ours, so the start follows it at once.
                await self.limiter.acquire(size)
                try:
                    result = await self._request(request)
                    return Outcome(SENT, result=result, attempts=attempt)
                except ProviderError as exc:
                    error = exc
            if error.permanent or attempt >= self.max_attempts or (error.ambiguous and not self.retry_ambiguous):
                kind = AMBIGUOUS if error.ambiguous else FAILED
                return Outcome(kind, error=str(error), attempts=attempt)
            delay = error.retry_after
            if delay is None or delay > self.max_retry_after:
                delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
            await asyncio.sleep(delay)

    async def _request(self, request: Prepared) -> SendResult:
        started = time.monotonic()
        try:
            response = await self.pool.request(request.method, request.url, request.headers, request.body)
        except NotSent as exc:
            raise ProviderError(f"Could not reach the provider: {exc}") from None
        except NoAnswer as exc:
            raise ProviderError(f"No answer after sending ({exc}); it may have been sent", ambiguous=True) from None
        status, headers, raw = response.status, response.headers, response.body
        elapsed = (time.monotonic() - started) * 1000
        logger.debug("%s %s %.0f ms", request.method, status, elapsed)
        return classify(self.config, status, headers, raw.decode("utf-8", "replace"), elapsed_ms=elapsed)

