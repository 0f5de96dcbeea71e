from .abtests import AbTest, AbVariant
from .broadcasts import Broadcast, BroadcastEvent, Message, RecurringBroadcast, Segment, SendingProfile, SendRecord
from .content import Campaign, Link, LinkList, Template, Trigger, WordSpinner

__all__ = [
    "AbTest", "AbVariant", "Broadcast", "BroadcastEvent", "Campaign", "Link", "LinkList", "Message",
    "RecurringBroadcast", "Segment", "SendRecord", "SendingProfile", "Template", "Trigger", "WordSpinner",
]
