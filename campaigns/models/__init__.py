from .abtests import AbTest, AbVariant
from .broadcasts import (
    Broadcast,
    BroadcastEvent,
    BroadcastRoute,
    Message,
    RecurringBroadcast,
    Segment,
    SendingProfile,
    SendRecord,
)
from .content import Campaign, Link, LinkList, Template, Trigger, WordSpinner

__all__ = [
    "AbTest", "AbVariant", "Broadcast", "BroadcastEvent", "BroadcastRoute", "Campaign", "Link", "LinkList", "Message",
    "RecurringBroadcast", "Segment", "SendRecord", "SendingProfile", "Template", "Trigger", "WordSpinner",
]
