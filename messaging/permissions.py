"""Who may see and change what: Django model permissions, granted to users or groups (the roles in
messaging.roles) in the admin; a superuser has all of them. Being staff grants none: staff only
opens the admin, whose pages and actions check the same permissions.

Every page checks one: reading pages `<app>.view_<model>`, changing actions `add_`/`change_`/
`delete_<model>`, sending `campaigns.send_broadcast`. Pages that show a form on GET and change
something on POST use `permission_required_for`.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied

# The callback URLs carry the token that authenticates delivery reports, so whoever sees them can
# forge reports: only those who may change the account itself.
CALLBACK_URLS = "messaging.change_provideraccount"

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def permission_required_for(read: str, write: str | None = None):
    """GET and HEAD need `read`; POST (any other method) needs `write` as well. 403 otherwise
    (signing in is the login middleware's job)."""

    def decorator(view):
        @wraps(view)
        def checked(request, *args, **kwargs):
            needed = [read] if request.method in SAFE_METHODS or write is None else [read, write]
            if not request.user.has_perms(needed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return checked

    return decorator


def require_permission(user, perm: str) -> None:
    """For views whose permission depends on what they are asked (a list kind, a form's button)."""
    if not user.has_perm(perm):
        raise PermissionDenied
