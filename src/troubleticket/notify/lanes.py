"""Delivery lanes: the deliveries partitioned so that several dispatchers share them.

A delivery's lane follows from its subscriber and its resource (``hubId`` × ``resourceKey``), so
all the deliveries of one resource to one subscriber are in one lane, and the dispatcher holding
that lane is the only one attempting them: per-subscriber, per-resource order needs no
coordination beyond the lane's lease (``background.lanes``).
"""

from __future__ import annotations

from zlib import crc32

# Lanes in all; more lanes than dispatching processes, so each takes an even share.
LANES = 16


def lane_of(hub_id: str, resource_key: str) -> int:
    """The lane of the deliveries of ``resource_key``'s events to ``hub_id`` (stable)."""
    return crc32(f"{hub_id}\x00{resource_key}".encode()) % LANES
