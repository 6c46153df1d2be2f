"""A test authorization server: keys made in the test, a JWKS file, and tokens it signs.

No network: the server reads the JWKS from a file (``TT_JWKS`` may also be a URL; the token
tests serve one locally for that).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from troubleticket.config import Settings

ISSUER = "https://sso.example.com/realms/operator"
AUDIENCE = "troubleticket"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    """The public half of ``key`` as a JWK with key id ``kid``."""
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "RS256"
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "ES256"
    return {**jwk, "kid": kid, "use": "sig"}


@dataclass
class Issuer:
    """Signs tokens with its keys, and publishes their public halves in a JWKS file."""

    jwks_path: Path
    issuer: str = ISSUER
    audience: str = AUDIENCE
    keys: dict[str, PrivateKey] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: Path) -> Issuer:
        issuer = cls(directory / "jwks.json")
        issuer.add_key("rsa-1", rsa_key())
        issuer.add_key("ec-1", ec_key())
        return issuer

    def add_key(self, kid: str, key: PrivateKey) -> None:
        """Start signing with ``key`` as ``kid`` and publish it (a key rotation)."""
        self.keys[kid] = key
        self.publish()

    def publish(self) -> None:
        keys = [public_jwk(key, kid) for kid, key in self.keys.items()]
        self.jwks_path.write_text(json.dumps({"keys": keys}), encoding="utf-8")

    def claims(self, subject: str = "svc-desk", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        subject: str = "svc-desk",
        *,
        scopes: tuple[str, ...] | list[str] = (),
        kid: str = "rsa-1",
        key: PrivateKey | None = None,
        **claims: Any,
    ) -> str:
        """A token of ``subject`` granting ``scopes``, signed with key ``kid`` (or ``key``,
        still naming ``kid``); ``claims`` add to or replace the standard ones (None: left out)."""
        signing = key if key is not None else self.keys[kid]
        algorithm = "RS256" if isinstance(signing, rsa.RSAPrivateKey) else "ES256"
        body = self.claims(subject, **({"scope": " ".join(scopes)} if scopes else {}), **claims)
        return jwt.encode(body, signing, algorithm=algorithm, headers={"kid": kid})

    def bearer(self, subject: str = "svc-desk", **kwargs: Any) -> dict[str, str]:
        """The Authorization header of ``token(subject, **kwargs)``."""
        return {"Authorization": f"Bearer {self.token(subject, **kwargs)}"}

    def settings(self, settings: Settings) -> Settings:
        """``settings`` with bearer tokens of this issuer required."""
        return replace(
            settings,
            auth="jwt",
            jwks=str(self.jwks_path),
            jwt_issuer=self.issuer,
            jwt_audience=self.audience,
        )
