"""Sending through a generic HTTP provider, one message at a time (test sends, auto-replies).

The bulk path (campaigns.dispatch) uses `aio.AsyncSender` instead, with the same request
building (`request.RequestTemplate`) and the same classification of answers (`classify`).
"""

from urllib.parse import urlsplit

from messaging import safejson
from messaging.http import AmbiguousRequestError, HttpClient, TransportError, parse_retry_after

from ..base import ProviderError, SendResult, Transport, register, truncate
from .request import Record, RequestTemplate, TemplateError, json_path

# 408 Request Timeout and 425 Too Early say the request was not processed: safe to repeat.
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def classify(config, status: int, headers, text: str, *, elapsed_ms: float = 0.0) -> SendResult:
    """A provider's answer → SendResult (2xx) or ProviderError saying whether a retry can help.

    5xx and 429 are retried: the provider answered that it did not take the message. (A provider
    that sends and then fails with a 500 would make that a duplicate; accounts whose provider
    de-duplicates by $$MessageID are safe either way.) A 504 is the exception: a gateway gave up
    waiting for the provider, which may still have sent it — as ambiguous as a read timeout.
    """
    shown, truncated = truncate(text)
    if 200 <= status < 300:
        provider_id = ""
        if config.response_id_field:
            try:
                found = json_path(safejson.loads(text), config.response_id_field)
            except safejson.JSONError as exc:
                # The provider said 2xx but we cannot read what it took: it may well have sent
                # it, so "unknown" (never "failed", which a resend of failed messages would repeat).
                raise ProviderError(f"HTTP {status} with an answer that is {exc} ({exc.detail}); it may have been sent",
                                    ambiguous=True, status=status, response_text=shown, headers=dict(headers),
                                    truncated=truncated) from None
            if isinstance(found, (str, int)) and not isinstance(found, bool):
                provider_id = str(found)[:64]
        return SendResult(status=status, provider_message_id=provider_id, headers=dict(headers), text=shown,
                          truncated=truncated, elapsed_ms=elapsed_ms)
    transient = status >= 500 or status in TRANSIENT_STATUSES
    raise ProviderError(f"HTTP {status}: {shown[:500]}", permanent=not transient, ambiguous=status == 504,
                        status=status, retry_after=parse_retry_after(headers.get("Retry-After")) if transient else None,
                        response_text=shown, headers=dict(headers), truncated=truncated)


@register("generic")
class GenericTransport(Transport):
    def __init__(self, account):
        super().__init__(account)
        self.config = account.generic
        try:
            self.template = RequestTemplate(self.config)
        except TemplateError as exc:
            raise ProviderError(str(exc), permanent=True) from None
        # No retries here: a test send shows the provider's first answer, as CleverTap's does.
        self.client = HttpClient("", timeout=(5.0, float(self.config.timeout)), max_retries=0)

    def close(self) -> None:
        self.client.close()

    def send(self, *, to: str, body: str, message_id: str, objects=None) -> SendResult:
        prepared = self.template.single(Record(to, body, message_id), objects=objects)
        return self.send_prepared(prepared)

    def send_prepared(self, prepared) -> SendResult:
        # The seam logs the path it is given: keep the query (message text, sometimes credentials)
        # out of it and let requests append it verbatim (a str `params` is not re-encoded).
        parts = urlsplit(prepared.url)
        try:
            response = self.client.request(prepared.method, f"{parts.scheme}://{parts.netloc}{parts.path or '/'}",
                                           params=parts.query or None, headers=prepared.headers,
                                           data=prepared.body, allow_redirects=False)
        except AmbiguousRequestError as exc:
            raise ProviderError(f"No answer after sending: {exc}", ambiguous=True) from exc
        except TransportError as exc:
            raise ProviderError(f"Could not reach the provider: {exc}", permanent=exc.permanent) from exc
        return classify(self.config, response.status_code, response.headers, response.text,
                        elapsed_ms=response.elapsed.total_seconds() * 1000)
