"""The interface every provider transport implements, and the registry from account kind to class.

A transport sends one message and either returns what the provider answered (`SendResult`) or
raises `ProviderError`. `permanent=True` means repeating the same request cannot help (a 4xx: bad
number, bad credentials); `ambiguous=True` means the request left and no answer came back, so the
provider may have acted: whoever resends it risks a duplicate SMS.
"""

from dataclasses import dataclass, field

MAX_RESPONSE_TEXT = 4000  # characters of a provider's answer kept on a message or shown on a page


class ProviderError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, ambiguous: bool = False,
                 status: int | None = None, retry_after: float | None = None, response_text: str = "",
                 headers: dict | None = None, truncated: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.ambiguous = ambiguous
        self.status = status
        self.retry_after = retry_after
        self.response_text = response_text
        self.headers = headers or {}
        self.truncated = truncated


@dataclass
class SendResult:
    status: int
    provider_message_id: str = ""
    headers: dict = field(default_factory=dict)
    text: str = ""  # the answer's body, truncated to MAX_RESPONSE_TEXT
    truncated: bool = False
    elapsed_ms: float = 0.0


def truncate(text: str, limit: int = MAX_RESPONSE_TEXT) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit], True)


class Transport:
    """One provider account's way of sending a message."""

    def __init__(self, account):
        self.account = account

    def send(self, *, to: str, body: str, message_id: str) -> SendResult:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_REGISTRY: dict[str, type[Transport]] = {}


def register(kind: str):
    def decorate(cls: type[Transport]) -> type[Transport]:
        _REGISTRY[kind] = cls
        return cls

    return decorate


def transport_for(account) -> Transport:
    from . import generic  # noqa: F401 — registers itself

    try:
        cls = _REGISTRY[account.kind]
    except KeyError:
        raise ProviderError(f"No transport for {account.get_kind_display()} accounts", permanent=True) from None
    return cls(account)
