"""Fault injection for API requests: latency, 4xx/5xx, 429 with Retry-After, hangs, errorCode in a 200.

`fail_next` is the deterministic tool: a queue consumed one entry per API request (matching `path`),
each `{"status": 503}`, `{"status": 500, "apply": true}`, `{"status": 429, "retry_after": 1}`,
`{"status": 403, "error_message": "User is disabled"}`, `{"hang": 3, "apply": true}` or
`{"status": 200, "error_code": 7, "error_message": "Campaign is disabled"}` (the v3 envelope with
`errorCode != 0` inside a 200, also on the NestJS paths, which have no error shape of their own for it).
`apply` says whether the real action happens anyway (the provider acted, then failed or its answer
was lost) or not (the request never got through). The random faults take the same choice from
`error_apply` (default: not applied) and `timeout_apply` (default: applied). The random rates use
their own seeded RNG so they never change the sandbox's ids or message fates.
"""

import random
import re
import threading
from collections import deque
from dataclasses import asdict, dataclass

from .errors import ApiError
from .validation import boolean, integer

DEFAULTS = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_status": 503,
    "rate_limit_rate": 0.0,
    "retry_after": 1,
    "error_apply": False,
    "timeout_rate": 0.0,
    "hang_seconds": 5.0,
    "timeout_apply": True,
    "path": None,
    "fail_next": [],
    "seed": 0,
}


@dataclass
class Fault:
    source: str  # "fail_next" or "random"
    status: int | None = None  # answer this status
    retry_after: float | None = None  # with a Retry-After header
    hang: float | None = None  # sleep this long before answering
    apply: bool = False  # perform the real action anyway
    error_code: int | None = None  # with status 200: the envelope's errorCode
    error_message: str | None = None  # instead of the reference's default message

    def describe(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ApiError(400, f"{field} must be a non-negative number")
    return value


def _entry(raw) -> Fault:
    if (
        not isinstance(raw, dict)
        or not ({"status", "hang"} & set(raw))
        or set(raw) - {"status", "retry_after", "hang", "apply", "error_code", "error_message"}
    ):
        raise ApiError(
            400,
            'each fail_next entry is {"status": 503}, {"status": 429, "retry_after": 1}, {"hang": 3, "apply": true}'
            ' or {"status": 200, "error_code": 7, "error_message": "..."}',
        )
    fault = Fault("fail_next", apply=boolean(raw.get("apply", False), "apply"))
    if "status" in raw:
        fault.status = integer(raw["status"], "status", minimum=200, maximum=599)
        if (fault.status == 200) != ("error_code" in raw) or 200 < fault.status < 400:
            raise ApiError(400, "status is 400-599, or 200 with an error_code (and only then)")
    if "error_code" in raw:
        fault.error_code = integer(raw["error_code"], "error_code", minimum=1)
    if "error_message" in raw:
        if not isinstance(raw["error_message"], str) or "status" not in raw:
            raise ApiError(400, "error_message is a string, given with a status")
        fault.error_message = raw["error_message"]
    if "hang" in raw:
        fault.hang = _number(raw["hang"], "hang")
    if "retry_after" in raw:
        fault.retry_after = _number(raw["retry_after"], "retry_after")
    return fault


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.configure({})

    def configure(self, raw: dict) -> dict:
        if not isinstance(raw, dict):
            raise ApiError(400, "faults must be a JSON object")
        unknown = sorted(set(raw) - set(DEFAULTS))
        if unknown:
            raise ApiError(400, f"unknown fault settings: {', '.join(unknown)}")
        config = {**DEFAULTS, **raw}
        for key in (
            "error_rate",
            "rate_limit_rate",
            "timeout_rate",
            "latency_ms",
            "hang_seconds",
            "retry_after",
        ):
            config[key] = _number(config[key], key)
        config["error_status"] = integer(config["error_status"], "error_status", minimum=500, maximum=599)
        for key in ("error_apply", "timeout_apply"):
            config[key] = boolean(config[key], key)
        if config["path"] is not None:
            try:
                re.compile(config["path"])
            except (re.error, TypeError):
                raise ApiError(400, "path must be a regular expression") from None
        if not isinstance(config["fail_next"], list):
            raise ApiError(400, "fail_next must be a list")
        queue = deque(_entry(raw_entry) for raw_entry in config["fail_next"])
        with self.lock:
            self.config = config
            self.fail_next = queue
            self.rng = random.Random(integer(config["seed"], "seed"))
        return self.view()

    def view(self) -> dict:
        with self.lock:
            return {
                **self.config,
                "fail_next": [{k: v for k, v in fault.describe().items() if k != "source"} for fault in self.fail_next],
            }

    def draw(self, path: str) -> tuple[float, Fault | None]:
        """(latency in seconds, fault) for one API request."""
        with self.lock:
            config = self.config
            if config["path"] and not re.search(config["path"], path):
                return 0.0, None
            latency = config["latency_ms"] / 1000
            if self.fail_next:
                return latency, self.fail_next.popleft()
            draw = self.rng.random()
            if draw < config["error_rate"]:
                return latency, Fault("random", status=config["error_status"], apply=config["error_apply"])
            draw -= config["error_rate"]
            if draw < config["rate_limit_rate"]:
                return latency, Fault("random", status=429, retry_after=config["retry_after"])
            draw -= config["rate_limit_rate"]
            if draw < config["timeout_rate"]:
                # answers after the hang, when the client has usually given up: applied, or a 504
                return latency, Fault("random", hang=config["hang_seconds"], apply=config["timeout_apply"])
            return latency, None
