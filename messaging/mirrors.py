"""Senders and sender lists as mirrored resources (see messaging.sync.resources)."""

from .models import Sender, SenderList
from .sync.resources import Members, MirrorResource, register


def sender_list_member_ids(client, list_id):
    return [member["senderId"] for member in client.sender_list_senders(list_id).get("senders") or []]


register(
    MirrorResource(key="sender", model=Sender, fields=("name",), order=10),
    MirrorResource(
        key="sender_list",
        model=SenderList,
        fields=("name",),
        order=20,
        members=Members(
            field="senders",
            create_arg="sender_ids",
            remote_ids=sender_list_member_ids,
            add=lambda client, list_id, ids: client.sender_list_add_senders(list_id, sender_ids=ids),
            remove=lambda client, list_id, member_id: client.sender_list_remove_sender(list_id, member_id),
        ),
    ),
)
