"""A partner's TMF621 API over HTTP: a pooled session per thread, connect and read timeouts, no
redirects, bounded response bodies, bearer or OAuth2 client-credentials tokens."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from troubleticket.domain.partners import Partner
from troubleticket.notify.egress import PUBLIC_ONLY, EgressPolicy

logger = logging.getLogger(__name__)


USER_AGENT = "troubleticket-partner-client"


MAX_BODY_BYTES = 1 << 20


class PartnerError(Exception):
    """A partner call that failed: no answer, or an answer that is not what was asked for."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Token:
    value: str
    expires: float


class PartnerClient:
    """The HTTP client of one partner's TMF621 API."""

    def __init__(
        self, partner: Partner, secrets: Mapping[str, str], egress: EgressPolicy = PUBLIC_ONLY
    ) -> None:
        """``egress``: where connections may go (the partner's addresses are checked each time
        one is opened)."""
        self.partner = partner
        self._secrets = secrets
        self._egress = egress
        self._local = threading.local()
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._egress.session()
        return session

    def _authorization(self, renew: bool = False) -> dict[str, str]:
        partner = self.partner
        if partner.bearer_token_env is not None:
            return {"Authorization": f"Bearer {self._secrets[partner.bearer_token_env]}"}
        if partner.oauth2 is None:
            return {}
        with self._lock:
            if renew or self._token is None or self._token.expires <= time.monotonic():
                self._token = self._fetch_token()
            return {"Authorization": f"Bearer {self._token.value}"}

    def _fetch_token(self) -> _Token:
        oauth2 = self.partner.oauth2
        assert oauth2 is not None
        form = {
            "grant_type": "client_credentials",
            "client_id": oauth2.client_id,
            "client_secret": self._secrets[oauth2.client_secret_env],
        }
        if oauth2.scope:
            form["scope"] = oauth2.scope
        response = self._send("POST", oauth2.token_url, data=form, auth=False)
        try:
            token = response.json()
            value, lifetime = token["access_token"], float(token.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerError(
                f"no access token from {oauth2.token_url}", response.status_code
            ) from exc
        # renewed half a minute early, so a call never carries one that is about to expire
        return _Token(str(value), time.monotonic() + max(lifetime - 30, 1))

    def _send(
        self, method: str, url: str, *, auth: bool = True, **kwargs: Any
    ) -> requests.Response:
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **kwargs.pop("headers", {}),
        }
        timeout = (self.partner.connect_timeout, self.partner.read_timeout)
        for renew in (False, True):
            sent = {**headers, **(self._authorization(renew) if auth else {})}
            try:
                response = self._session().request(
                    method,
                    url,
                    headers=sent,
                    timeout=timeout,
                    allow_redirects=False,
                    stream=True,
                    **kwargs,
                )
            except requests.RequestException as exc:
                raise PartnerError(f"{type(exc).__name__}: {exc}"[:500]) from exc
            try:
                # the body is read here, under the cap: a stall or a short body is this call's
                body = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                response.close()
                raise PartnerError(f"{type(exc).__name__}: {exc}"[:500]) from exc
            if len(body) > MAX_BODY_BYTES:
                response.close()
                raise PartnerError(f"{method} {url}: answer over {MAX_BODY_BYTES} bytes")
            response._content = body  # noqa: SLF001 - the body read under the cap above
            if response.status_code == 401 and auth and not renew and self.partner.oauth2:
                continue  # the token may have been revoked: one more try with a new one
            return response
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request to ``{baseUrl}{path}``."""
        return self._send(method, f"{self.partner.base_url}{path}", **kwargs)


def answer_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PartnerError(
            f"the answer is not JSON ({response.status_code})", response.status_code
        ) from exc
