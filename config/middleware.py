import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseBadRequest


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


class RejectNulMiddleware:
    """Answer 400 to a NUL character in the path, the query string or a form field.

    PostgreSQL cannot hold NUL in text, so psycopg refuses any query carrying one: a search for
    `?q=%00` would end in a 500. Django's form fields reject NUL, raw `request.GET` reads do not;
    this catches them all in one place. Views exempt from CSRF (provider callbacks, the token API)
    authenticate and parse their requests themselves (an unknown token stays a bare 404).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "csrf_exempt", False):
            return None
        if "\x00" in request.path or _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST)):
            return HttpResponseBadRequest("The request contains a NUL character.", content_type="text/plain")
        return None


# Every script and style is a file under /static/ (no inline code, no CDN), which is what lets
# the policy forbid inline script, eval and injected styles outright.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
))
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


class SecurityHeadersMiddleware:
    """The headers Django's SecurityMiddleware does not set: a Content-Security-Policy and a
    Permissions-Policy on every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def _is_background(request) -> bool:
    """A page refreshing itself (htmx polling, fetch of progress figures), not a person acting."""
    if request.method != "GET":
        return False
    headers = request.headers
    return headers.get("HX-Request") == "true" or headers.get("Sec-Fetch-Mode", "navigate") != "navigate"


class IdleSessionMiddleware:
    """Signs a user out after SESSION_IDLE_SECONDS without a page load or form post.

    The time of the last activity lives in the session and is written at most once a minute, so
    an active user costs no session write per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get("last_activity", now)
            if now - last > settings.SESSION_IDLE_SECONDS:
                logout(request)
                minutes = round(settings.SESSION_IDLE_SECONDS / 60)
                messages.info(request, f"You were signed out after {minutes} minutes without activity.")
            elif not _is_background(request) and (now - last >= 60 or "last_activity" not in request.session):
                request.session["last_activity"] = now
        return self.get_response(request)
