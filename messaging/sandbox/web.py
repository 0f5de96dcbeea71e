"""Small HTTP building blocks shared by the app, the resources and the control endpoint."""

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from messaging import safejson

from .errors import ApiError

if TYPE_CHECKING:
    from .callbacks import Dispatcher
    from .state import Store

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    path: str  # exactly as the reference spells it: requests are matched case-sensitively
    handler: Any
    style: str = "v3"  # "v3": the errorCode envelope; "nest": the NestJS services (/sms, /api/...)
    body_key: bool = False  # /sms: the API key comes in the JSON body as `api_key`


def routes(style: str = "v3", **defaults):
    """`ROUTES, route = routes()`: a list and a decorator that registers handlers in it."""
    registry: list[Route] = []

    def route(method: str, *paths: str, **options):
        """Register handler under each spelling the reference shows for the endpoint (its example
        and its prose may differ in casing); no other spelling, casing or trailing slash matches."""

        def register(handler):
            for path in paths:
                registry.append(Route((method,), path, handler, **{"style": style, **defaults, **options}))
            return handler

        return register

    return registry, route


@dataclass
class Body:
    """The request body, read once: JSON object, form fields and uploaded files."""

    json: Any = None
    form: dict = field(default_factory=dict)
    files: dict[str, FileStorage] = field(default_factory=dict)
    error: str | None = None
    raw: str = ""

    @classmethod
    def read(cls, request: Request) -> "Body":
        if request.mimetype in FORM_TYPES:
            return cls(form=request.form.to_dict(), files=request.files.to_dict())
        data = request.get_data(cache=True)
        if not data.strip():
            return cls(json={})
        raw = data.decode("utf-8", "replace")
        if request.mimetype != "application/json":
            return cls(error="request body must be JSON (Content-Type: application/json)", raw=raw)
        try:
            return cls(json=safejson.loads(raw), raw=raw)
        except ValueError as exc:
            # Express's body-parser wording
            return cls(error=f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}", raw=raw)

    def for_log(self) -> dict:
        """What the request log records: never an API key's value."""
        if self.files or self.form:
            return {
                "form": self.form,
                "files": [
                    {"field": name, "filename": upload.filename, "size": _size(upload)}
                    for name, upload in self.files.items()
                ],
            }
        if self.error:
            return {"invalid_json": self.raw[:2000]}
        if isinstance(self.json, dict) and "api_key" in self.json:
            return {"json": {**self.json, "api_key": "<redacted>"}}
        return {"json": self.json}


def _size(upload: FileStorage) -> int:
    stream = upload.stream
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size


@dataclass
class Call:
    """What a handler gets: the request, its parsed body and the sandbox's world."""

    request: Request
    body: Body
    store: "Store"
    dispatcher: "Dispatcher"

    @property
    def query(self):
        return self.request.args

    @property
    def json(self) -> dict:
        if self.body.error:
            raise ApiError(400, self.body.error)
        if self.body.form or self.body.files:
            # every JSON endpoint of the reference is shown with a JSON body, never a form
            raise ApiError(400, "request body must be JSON (Content-Type: application/json)")
        if self.body.json is None:
            return {}
        if not isinstance(self.body.json, dict):
            raise ApiError(400, "request body must be a JSON object")
        return self.body.json

    @property
    def is_upload(self) -> bool:
        return self.request.mimetype == "multipart/form-data"


@dataclass
class Raw:
    """A handler's answer sent as-is (no envelope), e.g. the NestJS services' bodies."""

    data: Any
    status: int = 200


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        headers=headers,
        mimetype="application/json",
    )
