"""Signing in: throttling of failed attempts and the optional second factor (TOTP).

Failures are counted per username and per client address in the cache (shared by every web
process through Redis in production). Past a threshold each further failure locks that name or
address for twice as long as the one before, up to a cap, so a guesser gets a handful of tries an
hour while a user who mistyped waits a minute. The lock is checked before the password, so a
locked name learns nothing from a right guess.
"""

import hashlib
import math
import time

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.utils import timezone
from django_otp import devices_for_user, match_token, user_has_device
from django_otp import login as otp_login


def client_ip(request) -> str:
    """The address the request came from: behind `LOGIN_TRUSTED_PROXIES` proxies, the entry the
    nearest one of them appended to X-Forwarded-For (the ones before it are the client's word)."""
    proxies = settings.LOGIN_TRUSTED_PROXIES
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _scopes(username: str, ip: str) -> list[tuple[str, int]]:
    """(cache key stem, failures allowed before locking) for the name and the address."""
    name = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    address = hashlib.sha256(ip.encode()).hexdigest()
    return [(f"login:user:{name}", settings.LOGIN_FAILURES_PER_USER),
            (f"login:ip:{address}", settings.LOGIN_FAILURES_PER_IP)]


def login_locked_for(*, username: str, ip: str) -> float:
    """Seconds until this name and address may try again (0: now)."""
    until = max((cache.get(f"{stem}:lock") or 0 for stem, _ in _scopes(username, ip)), default=0)
    return max(0.0, until - time.time())


def login_failed(*, username: str, ip: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for stem, allowed in _scopes(username, ip):
        cache.add(f"{stem}:failures", 0, timeout=window)
        try:
            failures = cache.incr(f"{stem}:failures")
        except ValueError:  # expired between add and incr
            cache.set(f"{stem}:failures", failures := 1, timeout=window)
        if failures >= allowed:
            doubled = settings.LOGIN_LOCKOUT_SECONDS * 2 ** (failures - allowed)
            seconds = min(doubled, settings.LOGIN_LOCKOUT_MAX_SECONDS)
            cache.set(f"{stem}:lock", time.time() + seconds, timeout=math.ceil(seconds))
            cache.touch(f"{stem}:failures", timeout=max(window, math.ceil(seconds) * 2))


def login_succeeded(*, username: str, ip: str) -> None:
    """A right password (and code) forgives the name's failures, not the address's: an attacker
    with one account of their own must not be able to reset the count for the others."""
    stem, _ = _scopes(username, ip)[0]
    cache.delete_many([f"{stem}:failures", f"{stem}:lock"])


def _wait_words(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _refuse_while_throttled(device) -> None:
    """django-otp makes each wrong code double the wait before the next one is even checked;
    say so, rather than calling a right code wrong."""
    allowed, details = device.verify_is_allowed()
    if not allowed:
        wait = (details or {}).get("locked_until")
        seconds = max(1, round((wait - timezone.now()).total_seconds())) if wait else 1
        raise forms.ValidationError(f"Too many wrong codes: wait {seconds} s before the next try.")


class SignInForm(AuthenticationForm):
    """Username, password and, for users who set up two-factor authentication, a code."""

    otp_token = forms.CharField(
        label="Authentication code", required=False, max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Only if you set up two-factor authentication: the 6-digit code from your app.",
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
        "locked": "Too many failed sign-ins. Try again in %(wait)s.",
        "otp_required": "Enter the 6-digit code from your authenticator app.",
        "otp_invalid": "That authentication code is wrong or has expired.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request)
        self._refuse_while_locked(username, ip)
        try:
            super().clean()
            self.device = self._verified_device()
        except forms.ValidationError:
            login_failed(username=username, ip=ip)
            self._refuse_while_locked(username, ip)  # this failure may be the one that locks
            raise
        login_succeeded(username=username, ip=ip)
        return self.cleaned_data

    def _refuse_while_locked(self, username: str, ip: str) -> None:
        if wait := login_locked_for(username=username, ip=ip):
            raise forms.ValidationError(self.error_messages["locked"], code="locked",
                                        params={"wait": _wait_words(wait)})

    def _verified_device(self):
        user = self.get_user()
        if not user_has_device(user, confirmed=True):
            return None
        token = "".join((self.cleaned_data.get("otp_token") or "").split())
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        for device in devices_for_user(user, confirmed=True):
            _refuse_while_throttled(device)
        device = match_token(user, token)
        if device is None:
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        return device


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if form.device is not None:
            otp_login(self.request, form.device)  # the session is verified: request.user.is_verified()
        return response


class CodeForm(forms.Form):
    otp_token = forms.CharField(label="Code from your app", max_length=12,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))

    def __init__(self, *args, device, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_otp_token(self):
        token = "".join(self.cleaned_data["otp_token"].split())
        _refuse_while_throttled(self.device)
        if not self.device.verify_token(token):
            raise forms.ValidationError("That code is wrong or has expired: codes change every 30 seconds.")
        return token
