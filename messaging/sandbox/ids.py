"""Identifier formats MessageWhiz uses, drawn from the sandbox's seeded RNG (so runs repeat)."""

import random
import time
import uuid

NANOID_ALPHABET = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SHORT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SHORT_LINK_DOMAIN = "hkzt.me"  # as in the reference's link click callback example
TRIGGER_DOMAIN = "https://0nz0.com"  # as in the reference's trigger examples


def nanoid(rng: random.Random, size: int = 21) -> str:
    """Like `rbzAV2NXxJ_u5bDL35Hop`: message and PDU ids of the fast single service."""
    return "".join(rng.choice(NANOID_ALPHABET) for _ in range(size))


def object_id(rng: random.Random) -> str:
    """A MongoDB-style ObjectId (the `_id` of a DLR to webhook entry)."""
    return f"{int(time.time()):08x}{rng.getrandbits(64):016x}"


def short_code(rng: random.Random, size: int = 6) -> str:
    return "".join(rng.choice(SHORT_ALPHABET) for _ in range(size))


def short_link(rng: random.Random) -> str:
    return f"{SHORT_LINK_DOMAIN}/{short_code(rng)}"


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
