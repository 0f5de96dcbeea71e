from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET


@login_not_required
@require_GET
def healthz(request):
    """Liveness for load balancers: answers only when the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@login_not_required
def admin_login(request, extra_context=None):
    """The admin's sign-in page: the site's own, which throttles guessing and asks for the second
    factor (the admin's form does neither)."""
    target = request.GET.get("next") or reverse("admin:index")
    return HttpResponseRedirect(f"{reverse('login')}?{urlencode({'next': target})}")


@login_not_required
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico wherever no <link rel="icon"> says otherwise (the admin, files,
    error pages). Redirected, not permanently: the static URL carries a hash in production."""
    return HttpResponseRedirect(static("favicon.ico"))
