"""Standard Webhooks signatures: the reference vector, verification, and secrets refused."""

from __future__ import annotations

import base64

import pytest

from troubleticket.domain.errors import InvalidRequest
from troubleticket.domain.signing import headers, secret_key, signature, verify

# The test vector published with the Standard Webhooks specification.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_reference_vector_signs_as_the_specification_says() -> None:
    assert signature(secret_key(SECRET), MESSAGE_ID, TIMESTAMP, BODY) == EXPECTED


def test_the_headers_of_an_attempt() -> None:
    assert headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY) == {
        "webhook-id": MESSAGE_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": EXPECTED,
    }


def test_a_receiver_accepts_the_signature_and_rejects_any_change() -> None:
    assert verify(SECRET, MESSAGE_ID, TIMESTAMP, BODY, EXPECTED, now=TIMESTAMP + 10)
    # one of several space-separated signatures (a receiver during a secret rotation)
    assert verify(SECRET, MESSAGE_ID, TIMESTAMP, BODY, f"v1,bogus= {EXPECTED}", now=TIMESTAMP)
    assert not verify(SECRET, MESSAGE_ID, TIMESTAMP, BODY + b" ", EXPECTED, now=TIMESTAMP)
    assert not verify(SECRET, "msg_other", TIMESTAMP, BODY, EXPECTED, now=TIMESTAMP)
    assert not verify(SECRET, MESSAGE_ID, TIMESTAMP + 1, BODY, EXPECTED, now=TIMESTAMP)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert not verify(other, MESSAGE_ID, TIMESTAMP, BODY, EXPECTED, now=TIMESTAMP)


def test_a_stale_timestamp_is_rejected_even_with_a_good_signature() -> None:
    assert not verify(SECRET, MESSAGE_ID, TIMESTAMP, BODY, EXPECTED, now=TIMESTAMP + 301)
    assert not verify(SECRET, MESSAGE_ID, TIMESTAMP, BODY, EXPECTED, now=TIMESTAMP - 301)


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"k" * 23).decode(),  # too short
        "whsec_" + base64.b64encode(b"k" * 65).decode(),  # too long
        "",
    ],
)
def test_malformed_secrets_are_refused(secret: str) -> None:
    with pytest.raises(InvalidRequest, match="secret"):
        secret_key(secret)


def test_secrets_of_24_to_64_bytes_are_taken() -> None:
    for size in (24, 32, 64):
        key = bytes(range(size))
        assert secret_key("whsec_" + base64.b64encode(key).decode()) == key
