"""The MessageWhiz API endpoints, one module per area; all register into `ROUTES`."""

from . import (
    broadcasts,
    crud,
    link_lists,
    links,
    recipient_lists,
    reports,
    sender_lists,
    singles,
    unsubscribe_lists,
)
from .crud import ROUTES

__all__ = [
    "ROUTES",
    "broadcasts",
    "crud",
    "link_lists",
    "links",
    "recipient_lists",
    "reports",
    "sender_lists",
    "singles",
    "unsubscribe_lists",
]
