"""The providers' callback endpoints without the dashboard's middleware (config/wsgi.py routes here).

A provider finishing a broadcast posts thousands of DLRs a second, and the middleware stack
(sessions, CSRF, authentication, the second factor, the audit context, messages, idle sessions)
and a walk of the whole URLconf cost as much as the view itself while doing nothing for these
requests: the token in the URL is their authentication. So POSTs to /callbacks/<token>/dlr,
/dlr-batch and /click go straight to callbacks.views.receive, the same view Django's URLconf
serves (the same token check, size cap, chunked reading, strict parsing and answers). What the
stack still does for them is kept here: the Host check (ALLOWED_HOSTS), the HTTPS redirect and
security headers (SecurityMiddleware and config.middleware), the request signals that look after
database connections, and a logged 500 for anything unexpected.
"""

import logging
import re

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.http import JsonResponse
from django.middleware.security import SecurityMiddleware

from config.middleware import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY

from . import views

# callbacks/urls.py's patterns under config/urls.py's "callbacks/" (a trailing slash is forgiven).
ROUTE = re.compile(r"/callbacks/(?P<token>[^/]{1,128})/(?P<endpoint>dlr|dlr-batch|click)/?")
ENDPOINTS = {"dlr": "dlr", "dlr-batch": "dlr_batch", "click": "click"}

request_logger = logging.getLogger("django.request")
security_logger = logging.getLogger("django.security.DisallowedHost")


def with_callbacks(django_application):
    """The WSGI application: callback requests answered here, everything else by Django."""

    def application(environ, start_response):
        if ROUTE.fullmatch(environ.get("PATH_INFO", "")) is None:
            return django_application(environ, start_response)
        return serve(environ, start_response)

    return application


def serve(environ, start_response):
    signals.request_started.send(sender=__name__, environ=environ)
    request = WSGIRequest(environ)
    try:
        response = _respond(request)
    except Exception:
        request_logger.exception("Internal Server Error: %s", request.path)
        response = JsonResponse({"error": "server error"}, status=500)
    response.headers["Content-Length"] = str(len(response.content))  # as CommonMiddleware: keep-alive without chunking
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return response  # the server calls its close(): request_finished, as after a Django response


def _respond(request):
    match = ROUTE.fullmatch(request.path_info)
    try:
        request.get_host()
    except DisallowedHost as exc:
        security_logger.error(str(exc))
        return JsonResponse({"error": "bad request"}, status=400)
    security = SecurityMiddleware(_unused)  # per request: it reads the settings when built
    response = security.process_request(request)  # the HTTPS redirect, when configured
    if response is None:
        response = views.receive(request, match["token"], ENDPOINTS[match["endpoint"]])
    response = security.process_response(request, response)
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    response.headers.setdefault("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper())
    return response


def _unused(request):
    raise AssertionError("SecurityMiddleware is only asked for process_request/process_response here")
