"""Signed outbound webhooks (Standard Webhooks): `events.emit` writes the outbox, `delivery`
drains it, `signing` signs requests. See models.py for the shape of the outbox."""
