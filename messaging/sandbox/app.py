"""The WSGI application: routing, API key check, envelope, fault injection and the request log.

API paths are matched exactly: case-sensitively, and with a trailing slash only where the reference
shows one (`Broadcast/tiny/`). An endpoint whose example and prose spell it differently (the
reference writes `RecipientList` and `recipientList`) answers under each spelling shown for it.
"""

import itertools
import re
import sys
import threading
import time
import traceback
from collections import deque

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import control
from .callbacks import Dispatcher
from .errors import ApiError, nest_body, v3_body
from .faults import Fault, Faults
from .resources import ROUTES, broadcasts
from .state import DEFAULT_SEED, Store
from .validation import iso, now
from .web import Body, Call, Raw, Route, json_response


class RequestLog:
    """Every API request received (control endpoint: GET /_sandbox/requests)."""

    def __init__(self, size: int = 20000):
        self.entries: deque[dict] = deque(maxlen=size)
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def add(self, entry: dict) -> dict:
        with self.lock:
            entry["id"] = next(self.ids)
            self.entries.append(entry)
        return entry

    def select(self, path: str | None = None, method: str | None = None) -> list[dict]:
        pattern = re.compile(path) if path else None
        with self.lock:
            return [
                dict(entry)
                for entry in self.entries
                if (pattern is None or pattern.search(entry["path"]))
                and (not method or entry["method"] == method.upper())
            ]

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.ids = itertools.count(1)


class SandboxApp:
    def __init__(self, api_keys: list[str], seed: int = DEFAULT_SEED):
        self.api_keys = frozenset(api_keys)
        self.store = Store(seed)
        self.dispatcher = Dispatcher(self.store)
        self.dispatcher.on_click = lambda message: broadcasts.after_click(self.store, self.dispatcher, message)
        self.faults = Faults()
        self.requests = RequestLog()
        self.routes = Map(
            [Rule(route.path, methods=list(route.methods), endpoint=route) for route in ROUTES],
            strict_slashes=True,
            merge_slashes=False,
            redirect_defaults=False,
        )

    def reset(self) -> None:
        """Empty world, no faults, default callback settings; the API keys stay."""
        self.dispatcher.reset()
        self.store.reset()
        self.faults.configure({})
        self.requests.clear()

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path.lower().startswith("/_sandbox"):
            response = control.dispatch(self, request)
        else:
            response = self.api(request)
        return response(environ, start_response)

    # the API ------------------------------------------------------------------------------------
    def api(self, request: Request) -> Response:
        started = time.perf_counter()
        body = Body.read(request)
        route, args = self._match(request.path, request.method)
        # Decision: a path or method the API lacks never reaches its handlers, so the web framework
        # answers (404 "Cannot PATCH /api/3/template/1", no v3 envelope), unlike a missing entity.
        style = route.style if route else "nest"
        entry = self.requests.add(
            {
                "time": iso(now()),
                "method": request.method,
                "path": request.path,
                "query": {key: values[0] if len(values) == 1 else values for key, values in request.args.lists()},
                **body.for_log(),
                "content_type": request.mimetype or None,
                "apikey_header": bool(request.headers.get("apikey")),
                "apikey_present": bool(request.headers.get("apikey"))
                or (isinstance(body.json, dict) and bool(body.json.get("api_key"))),
                "status": None,
            }
        )
        latency, fault = self.faults.draw(request.path)
        if latency:
            time.sleep(latency)
        response = None
        if fault is None or fault.apply:
            response = self._execute(request, body, route, args, style, started)
        if fault is not None:
            entry["fault"] = fault.describe()
            response = self._fault_response(fault, style, started) or response
        entry["status"] = response.status_code
        entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return response

    def _match(self, path: str, method: str) -> tuple[Route | None, dict]:
        try:
            route, args = self.routes.bind("sandbox").match(path, method=method)
        except HTTPException:  # unknown path or method: answered 404 like Express/NestJS do
            return None, {}
        return route, args

    def _fault_response(self, fault: Fault, style: str, started: float) -> Response | None:
        if fault.hang:
            time.sleep(fault.hang)
        if fault.error_code is not None:
            error = ApiError(fault.error_code, fault.error_message)
            return json_response(v3_body(error.status, error.messages, round(time.perf_counter() - started, 9)))
        if fault.status:
            headers = {}
            if fault.status == 429:
                seconds = fault.retry_after if fault.retry_after is not None else 1
                headers["Retry-After"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
            return self._error(style, ApiError(fault.status, fault.error_message, headers=headers), started)
        if not fault.apply:
            return self._error(style, ApiError(504), started)  # the gateway gave up: nothing applied
        return None

    def _execute(
        self, request: Request, body: Body, route: Route | None, args: dict, style: str, started: float
    ) -> Response:
        try:
            self._authorize(request, body, route)
            if route is None:
                raise ApiError(404, f"Cannot {request.method} {request.path}")
            call = Call(request, body, self.store, self.dispatcher)
            with self.store.lock:
                result = route.handler(call, **args)
            return self._render(style, result, started)
        except ApiError as error:
            return self._error(style, error, started)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return self._error(style, ApiError(500, "Internal server error"), started)

    def _authorize(self, request: Request, body: Body, route: Route | None) -> None:
        if route is not None and route.body_key:
            # /sms: `api_key` in the JSON body is the only credential it documents; a header is ignored
            key = body.json.get("api_key") if isinstance(body.json, dict) else None
        else:
            key = request.headers.get("apikey")
        if key not in self.api_keys:
            raise ApiError(401)

    @staticmethod
    def _render(style: str, result, started: float) -> Response:
        if isinstance(result, Response):
            return result
        if isinstance(result, Raw):
            return json_response(result.data, result.status)
        return json_response(
            {
                "errorCode": 0,
                "errorMessage": "",
                "errorType": "",
                "executionTime": round(time.perf_counter() - started, 9),
                "result": result,
            }
        )

    @staticmethod
    def _error(style: str, error: ApiError, started: float) -> Response:
        if style == "nest":
            data = nest_body(error.status, error.messages)
        else:
            data = v3_body(error.status, error.messages, round(time.perf_counter() - started, 9))
        return json_response(data, error.status, error.headers)
