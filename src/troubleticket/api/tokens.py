"""Bearer tokens: JWTs verified offline against the keys of the authorization server (JWKS).

As TM Forum's ODA canvas does it (Keycloak issuing OAuth2 access tokens): a client gets a token
from the authorization server (client credentials for a partner's system), and sends it on every
request; this server checks its signature with the published keys, its issuer, audience and
lifetime, and reads who the caller is (``sub``), what it may do (``scope``, and roles from a
configurable claim) and, for a partner, which party it acts for (a configurable claim).

Keys come from a JWKS URL (fetched with PyJWT's ``PyJWKClient``: cached for 5 minutes, fetched
again when a token names a key id it does not know, as after a key rotation, but not within 10
seconds of the last fetch, so a stream of made-up key ids cannot make it hammer the issuer:
publish a new key before signing with it, as Keycloak does) or a JWKS file (read again when it
changes and on an unknown key id). Only the configured algorithms are accepted: ``none`` and
HMAC with a public key can never be.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

# Algorithms a token may be signed with unless configured otherwise: asymmetric only.
DEFAULT_ALGORITHMS = ("RS256", "ES256")
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class InvalidToken(Exception):
    """The token cannot be trusted; ``message`` says why, for the server's log (never the token
    itself); ``public`` is what the client is told: that it expired, or only that it is not
    valid (not which key, algorithm, issuer or claim failed, which would help a forger)."""

    def __init__(self, message: str, *, public: str = "the token is not valid") -> None:
        super().__init__(message)
        self.message = message
        self.public = public


EXPIRED = "the token has expired"
# Characters a party id may have: printable, no spaces (it is compared, logged and stored).
_PARTY_ID = re.compile(r"[!-~\u00a1-\uffff]{1,256}")
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class TokenSettings:
    jwks: str  # a file path, or an http(s) URL
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway: float = 30.0  # seconds of clock skew tolerated on exp, nbf and iat
    roles_claim: str = "roles"  # a dotted path: realm_access.roles for Keycloak realm roles
    party_claim: str = "party_id"  # the party a partner's token acts for

    def __post_init__(self) -> None:
        weak = [a for a in self.algorithms if a not in ASYMMETRIC]
        if weak or not self.algorithms:
            raise ValueError(
                f"algorithms must be asymmetric JWS algorithms ({', '.join(sorted(ASYMMETRIC))}), "
                f"not {', '.join(weak) or 'none'}"
            )


def claim_at(claims: Mapping[str, Any], path: str, absent: Any = None) -> Any:
    """The value at a dotted path of the claims (``realm_access.roles``), or ``absent``."""
    node: Any = claims
    for name in path.split("."):
        if not isinstance(node, Mapping) or name not in node:
            return absent
        node = node[name]
    return node


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, Sequence):
        return [str(v) for v in value if isinstance(v, str)]
    return []


class _FileKeys:
    """The keys of a JWKS file, read again when it changes (a key added or withdrawn) and when
    a token names a key id not in it."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._stamp = self._changed_at()
        self._keys = self._read()

    def _changed_at(self) -> int | None:
        try:
            return self._path.stat().st_mtime_ns
        except OSError:
            return None

    def _read(self) -> dict[str | None, jwt.PyJWK]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            keys = jwt.PyJWKSet.from_dict(data).keys
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise InvalidToken(f"the JWKS file {self._path} cannot be read: {exc}") from None
        return {key.key_id: key for key in keys}

    def key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            stamp = self._changed_at()
            if kid not in self._keys or stamp != self._stamp:
                try:
                    self._keys, self._stamp = self._read(), stamp
                except InvalidToken:
                    # a file being rewritten, or spoiled: the keys known stay until it is fixed
                    if kid not in self._keys:
                        raise
            if kid in self._keys:
                return self._keys[kid]
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
        raise InvalidToken(f"no key {kid!r} in the JWKS")


class _UrlKeys:
    def __init__(self, url: str) -> None:
        # the key set is cached for 5 min and fetched again on an unknown key id
        self._client = jwt.PyJWKClient(url, cache_keys=False, lifespan=300, cooldown_duration=10)

    def key(self, kid: str | None) -> jwt.PyJWK:
        try:
            if kid is None:
                keys = self._client.get_signing_keys()
                if len(keys) == 1:
                    return keys[0]
                raise InvalidToken("the token names no key id and the JWKS has several keys")
            return self._client.get_signing_key(kid)
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(f"no key {kid!r} in the JWKS: {exc}") from None


class TokenVerifier:
    """Verifies bearer tokens and says what they grant."""

    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        if settings.jwks.startswith(("https://", "http://")):
            self._keys: _FileKeys | _UrlKeys = _UrlKeys(settings.jwks)
        else:
            self._keys = _FileKeys(settings.jwks)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token that is genuine, for us, and current.

        Raises:
            InvalidToken: malformed, an algorithm not allowed (``none`` included), an unknown
                key, a bad signature, another issuer or audience, expired or not yet valid.
        """
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not a JWT: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in settings.algorithms:
            raise InvalidToken(f"the token's algorithm {algorithm!r} is not accepted")
        key = self._keys.key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken(EXPIRED, public=EXPIRED) from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is not for this API (audience)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token is not from the configured issuer") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from None
        except (TypeError, ValueError):
            # e.g. an ES256 token naming an RSA key: the key cannot check that algorithm
            raise InvalidToken(
                f"the token's algorithm {algorithm!r} does not fit its key {header.get('kid')!r}"
            ) from None
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                # PyJWT reads a numeric string as the number: RFC 7519 says NumericDate
                raise InvalidToken(f"the token's {name} claim is not a number: {value!r:.40}")
        return claims

    def token_info(self, token: str) -> dict[str, Any]:
        """What Connexion needs of a valid token (RFC 7662 shape): its scopes, subject, claims.

        Raises:
            InvalidToken: see ``verify``.
        """
        claims = self.verify(token)
        scopes = _strings(claims.get("scope")) or _strings(claims.get("scp"))
        return {
            "active": True,
            "sub": claims["sub"],
            "scope": scopes,
            "roles": _strings(claim_at(claims, self.settings.roles_claim)),
            "party": self._party(claims),
            "client_id": claims.get("azp") or claims.get("client_id"),
        }

    def _party(self, claims: Mapping[str, Any]) -> str | None:
        """The party the token acts for: ``None`` when the claim is absent (an operator's
        token), its id when it is one (a string, or a list of exactly one, as an identity
        provider's multivalued mapper writes it).

        Raises:
            InvalidToken: the claim is there but names no party, or several: such a token
                must not get the operator's view.
        """
        path = self.settings.party_claim
        value = claim_at(claims, path, _ABSENT)
        if value is _ABSENT:
            return None
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, str) and _PARTY_ID.fullmatch(value):
            return value
        raise InvalidToken(f"the token's {path} claim names no single party: {value!r:.80}")
