"""CleverTap-style generic HTTP providers (SMS and WhatsApp)."""

from . import transport  # noqa: F401 — registers GenericTransport
