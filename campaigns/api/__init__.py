"""Textcast's REST API, /api/v1 (django-ninja): scoped tokens, idempotency keys on sends, a rate
limit per token, JSON errors with field paths, OpenAPI at /api/v1/schema, docs at /api/v1/docs."""

from django.contrib.auth.decorators import permission_required
from ninja import NinjaAPI

from . import broadcasts, consent, lists, sends
from .base import SafeParser, install_error_handlers

api = NinjaAPI(
    title="Textcast API", version="1", urls_namespace="api-v1", parser=SafeParser(),
    openapi_url="/schema", docs_url="/docs",
    # Reading the docs is a page of the dashboard: for those who may make tokens to use it.
    docs_decorator=permission_required("messaging.add_apitoken"),
    description="Authenticate with `Authorization: Bearer <token>` (tokens: the “API tokens” page). Each operation "
                "names the scope it needs; a token's rights are its scopes intersected with its user's permissions. "
                "Sends take an `Idempotency-Key` header. Errors: `{\"errors\": [{\"field\": …, \"message\": …}]}`.",
)
install_error_handlers(api)
for module in (lists, broadcasts, sends, consent):
    api.add_router("", module.router)


def _operations():
    return [operation for _, router in api._routers for path_view in router.path_operations.values()
            for operation in path_view.operations]


# Each operation's scope in its description and as `x-scope`, where the docs show it.
for _operation in _operations():
    _scope = _operation.auth_callbacks[0].scope
    _operation.description = f"{_operation.description or ''}\n\n**Scope:** `{_scope}`".strip()
    _operation.openapi_extra = {**(_operation.openapi_extra or {}), "x-scope": _scope}


def urls():
    """The API's URL patterns for config.urls: operations authenticate by token, not by session
    (LoginRequiredMiddleware lets them through); the schema and docs pages keep the login."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if pattern.name in operation_names():
            pattern.callback.login_required = False
    return patterns, app_name, namespace


def operation_names() -> set[str]:
    """The URL names of the API's operations (not its schema, docs and index pages)."""
    return {getattr(operation, "url_name", "") or operation.view_func.__name__ for operation in _operations()}
