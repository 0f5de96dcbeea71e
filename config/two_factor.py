"""Setting up and turning off two-factor authentication (a TOTP authenticator app)."""

import base64

import segno
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.login import CodeForm

DEVICE_NAME = "Authenticator app"


def _devices(user):
    return TOTPDevice.objects.devices_for_user(user, confirmed=None).filter(name=DEVICE_NAME)


@require_http_methods(["GET", "POST"])
def two_factor(request):
    """One page: with no app set up it shows a new key to scan and asks for a code to confirm it;
    with one set up it offers to turn it off, which also takes a current code."""
    device = _devices(request.user).filter(confirmed=True).first()
    if device is None:
        # One pending key per user, kept across reloads so a scanned QR code stays valid.
        device = _devices(request.user).filter(confirmed=False).first() or TOTPDevice.objects.create(
            user=request.user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if device.confirmed:
                _devices(request.user).delete()
                messages.success(request, "Two-factor authentication is off. Sign-ins need only your password.")
            else:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                otp_login(request, device)
                messages.success(request, "Two-factor authentication is on: each sign-in now asks for a code.")
        return redirect("two_factor")
    context = {"form": form, "enabled": device.confirmed}
    if not device.confirmed:
        context["key"] = base64.b32encode(device.bin_key).decode()
        context["qr"] = segno.make(device.config_url, error="m").svg_data_uri(scale=5)
    return render(request, "registration/two_factor.html", context)
