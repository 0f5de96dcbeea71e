"""The one HTTP seam: every outbound call to a provider goes through `HttpClient`.

All HTTP policy lives here (as in healthchecks' `HttpTransport`), so providers only describe
their endpoints and classify answers:

* one pooled `requests.Session` per client, explicit (connect, read) timeouts on every call;
* idempotent requests (GET, HEAD, OPTIONS, PUT, PATCH, DELETE, and POSTs the caller marks safe,
  such as an estimate or a preview) are retried on connection errors, timeouts, 5xx and 429, with
  exponential backoff and full jitter, honouring `Retry-After`;
* any other POST creates or sends something and is retried only when it provably never left
  (the connection could not even be opened). A timeout or a dropped connection after sending
  raises `AmbiguousRequestError`: the provider may have acted, so the caller must look before it
  sends again. Resending blindly is how a customer gets the same SMS twice. A 5xx answer to such
  a POST is just as uncertain (`maybe_applied`);
* redirects are never followed: requests would re-send custom credential headers (`apikey`) to
  whatever host the Location names, re-post the body (307/308) or turn a send into a GET (302);
* whatever status finally comes back (3xx included) is returned as is: classifying it is the
  provider's job;
* every connection is checked by messaging.netguard before the request is written: a host that
  reaches a loopback, private or metadata address raises `RefusedAddressError` (never retried).

Only method, path, status and duration are logged: headers and bodies carry API keys.
"""

import email.utils
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from .netguard import GuardedAdapter, refused

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})

# Failures where no usable answer arrived. ChunkedEncodingError is a body cut off mid-read.
TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class HttpError(Exception):
    """No usable HTTP answer. `permanent` says whether repeating the request as is could help."""

    permanent = False


class TransportError(HttpError):
    """The connection failed or timed out and the request was not applied (or is safe to repeat)."""


class RefusedAddressError(TransportError):
    """messaging.netguard refused the address the host resolved to: nothing was sent, and
    repeating cannot help until the URL or the settings change."""

    permanent = True


class AmbiguousRequestError(HttpError):
    """A non-idempotent request was sent but no answer came back: it may or may not have been applied.

    Deliberately not a `TransportError`, and permanent as far as blind retries go, so code that
    retries transport errors cannot resend it.
    """

    permanent = True


def never_sent(exc: Exception) -> bool:
    """True when the failure happened while connecting, i.e. before a single byte of the request left.

    requests raises ConnectTimeout for a connect timeout, and ConnectionError wrapping urllib3's
    NewConnectionError (a ConnectTimeoutError subclass) for refused connections and DNS failures.
    Everything else (reset, aborted, read timeout) may have happened after the server got the request.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)


def maybe_applied(status: int) -> bool:
    """Whether an error status to a request that creates or sends leaves its outcome unknown.

    A 500, or a gateway's 502/504, may come after the backend did the work. Only 503 (and 429,
    not a 5xx) say that the request was not processed.
    """
    return status >= 500 and status != 503


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_idempotent(method: str, idempotent: bool | None = None) -> bool:
    """Whether a request may be repeated: as the caller says, else as HTTP's semantics of `method` say."""
    return method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent


class HttpClient:
    """A pooled session bound to one base URL, with the retry policy described in the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 60.0,
        pool_size: int = 10,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        # A server asking us to wait longer than this gets the response back instead: a Celery task
        # can reschedule itself for later, while a worker asleep for minutes helps nobody.
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.session = requests.Session()
        # Our own retry loop is the only one: urllib3's would retry POSTs without knowing the rules above.
        adapter = GuardedAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers or {})

    def __repr__(self):
        return f"<HttpClient {self.base_url}>"  # never the headers: they hold credentials

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, *, idempotent: bool | None = None,
                **kwargs) -> requests.Response:
        """Send `method path` (relative to base_url) and return the final response, whatever its status.

        `idempotent` defaults to the HTTP semantics of `method`; pass True for a POST that changes
        nothing (estimate, preview). Other keyword arguments go to `requests.Session.request`.
        Raises TransportError or AmbiguousRequestError when no usable response arrived.
        """
        method = method.upper()
        idempotent = is_idempotent(method, idempotent)
        url = self.base_url + path
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        rewind = _rewinder(kwargs.get("files"))
        attempt = 0
        while True:
            rewind()
            started = time.monotonic()
            try:
                response = self.session.request(method, url, **kwargs)
            except TRANSPORT_ERRORS as exc:
                logger.warning("%s %s failed after %.0f ms: %s",
                               method, path, _ms(started), type(exc).__name__)
                if reason := refused(exc):
                    raise RefusedAddressError(reason) from exc
                unsent = never_sent(exc)
                if attempt < self.max_retries and (idempotent or unsent):
                    self.sleep(self.backoff(attempt))
                    attempt += 1
                    continue
                if idempotent or unsent:
                    raise TransportError(f"{method} {path}: {type(exc).__name__}") from exc
                raise AmbiguousRequestError(
                    f"{method} {path}: {type(exc).__name__} after sending; it may have been applied"
                ) from exc
            logger.info("%s %s %s %.0f ms", method, path, response.status_code, _ms(started))
            delay = self.retry_delay(response, attempt) if idempotent and attempt < self.max_retries else None
            if delay is None:
                return response
            response.close()
            self.sleep(delay)
            attempt += 1

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): spreads retries from many workers instead of syncing them."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    def retry_delay(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying this response, or None to hand it back to the caller."""
        if response.status_code != 429 and response.status_code < 500:
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.max_retry_after:
            return None
        # Never earlier than asked, but not all workers told "1" at the same instant either.
        return retry_after + random.uniform(0, self.backoff_base)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _rewinder(files) -> Callable[[], None]:
    """Remember where each uploaded file starts, so that a retry uploads it whole again."""
    if not files:
        return lambda: None
    parts = files.values() if isinstance(files, dict) else (part for _, part in files)
    streams = [part[1] if isinstance(part, tuple) else part for part in parts]
    positions = [(stream, stream.tell()) for stream in streams if hasattr(stream, "seek")]

    def rewind():
        for stream, position in positions:
            stream.seek(position)

    return rewind
