"""Standard Webhooks signatures (https://www.standardwebhooks.com), stdlib only.

A secret is ``whsec_`` followed by the base64 of its key bytes. Each delivery attempt signs
``{webhook-id}.{webhook-timestamp}.{body}`` with HMAC-SHA256 under that key and sends
``webhook-signature: v1,<base64 signature>``; a receiver recomputes it with the same secret, and
checks the timestamp is recent, to know the event came from us, unaltered, and is not replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from troubleticket.domain.errors import InvalidRequest

PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_…`` secret.

    Raises:
        InvalidRequest: not ``whsec_`` and base64 of 24 to 64 bytes.
    """
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise InvalidRequest(f"secret must start with {PREFIX!r} followed by base64")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"secret must be {PREFIX!r} followed by valid base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise InvalidRequest(
            f"secret must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, not {len(key)}"
        )
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret_key(secret), message_id, timestamp, body),
    }


def verify(
    secret: str,
    message_id: str,
    timestamp: int,
    body: bytes,
    header: str,
    *,
    now: int,
    tolerance: int = 300,
) -> bool:
    """Whether ``header`` (space-separated ``v1,…`` signatures) signs this attempt, and is fresh."""
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret_key(secret), message_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())
