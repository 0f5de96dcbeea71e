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
