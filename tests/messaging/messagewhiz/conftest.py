import pytest

from messaging.messagewhiz.client import MessageWhizClient


@pytest.fixture
def sleeps():
    """Delays the client would have slept: retry tests read them instead of waiting."""
    return []


@pytest.fixture
def client(sandbox, sleeps):
    with MessageWhizClient(sandbox.url, sandbox.api_key, timeout=(2, 5), sleep=sleeps.append) as mw:
        yield mw


@pytest.fixture
def sent(sandbox):
    """sent("POST", "/api/3/campaign") -> the single request the sandbox logged for that method and path."""

    def one(method: str, path: str) -> dict:
        entries = sandbox.requests(method=method, path=f"^{path}$")
        assert len(entries) == 1, entries
        entry = entries[0]
        assert entry["method"] == method
        return entry

    return one
