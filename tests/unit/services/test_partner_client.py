"""PartnerClient, the HTTP client of one partner's TMF621 API, against a real local server.

The fake partner is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (HTTP/1.0: one connection per
request), started per test and stopped by the fixture; it records each request it gets and
answers from the replies the test scripted, in order. Its token endpoint is ``/oauth/token``.
A reply may wait before answering; the wait ends early when the test is over, so no handler
outlives its test.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from troubleticket.domain.partners import OAuth2, Partner
from troubleticket.notify.egress import EgressPolicy
from troubleticket.partners import client as partners_module
from troubleticket.partners.client import MAX_BODY_BYTES, USER_AGENT, PartnerClient, PartnerError

API = "/tmf-api/troubleTicket/v5"
TOKEN_PATH = "/oauth/token"
LONG_WAIT_S = 5.0  # a reply that waits this long is one the client must not wait for
# the fake partner is on this host: the clients of these tests may connect there
LOCAL = EgressPolicy.from_setting("127.0.0.1/32")


@dataclass
class Seen:
    """A request the fake partner got."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), strict_parsing=True)


@dataclass
class Reply:
    """What the fake partner answers: ``body`` (JSON unless bytes) after ``delay`` seconds.

    ``length``: the Content-Length sent (the body's own by default, ``None`` for none: the body
    then ends when the connection closes). ``then_wait``: seconds the connection stays open
    after the body was sent.
    """

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    length: int | None | str = "auto"
    then_wait: float = 0.0

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def token(value: str, expires_in: float | None = 3600) -> Reply:
    body: dict[str, Any] = {"access_token": value, "token_type": "Bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return Reply(200, body, {"Content-Type": "application/json"})


OK = Reply(200, {"id": "P-9", "status": "inProgress"}, {"Content-Type": "application/json"})
UNAUTHORIZED = Reply(401, {"code": "401", "reason": "Unauthorized"})


class FakePartner:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: list[Reply] = []
        self.errors: list[BaseException] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-partner"
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def take(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            if self.replies:
                return self.replies.pop(0)
        return Reply(500, {"reason": f"unscripted {seen.method} {seen.path}"})

    def paths(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.seen]

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()  # joins every handler thread (daemon_threads is off)
        self._thread.join()


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    fake: FakePartner

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.fake.errors.append(sys.exc_info()[1])  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # no handler waits on a silent client for ever

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        seen = Seen(
            self.command,
            self.path,
            {name.lower(): value for name, value in self.headers.items()},
            self.rfile.read(size),
        )
        fake = self.server.fake
        reply = fake.take(seen)
        if reply.delay:
            fake.released.wait(reply.delay)
        payload = reply.payload()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.length == "auto":
                self.send_header("Content-Length", str(len(payload)))
            elif reply.length is not None:
                self.send_header("Content-Length", str(reply.length))
            self.end_headers()
            self.wfile.write(payload)
            if reply.then_wait:
                fake.released.wait(reply.then_wait)
        except OSError:
            pass  # the client gave up on the answer: that is what some tests are about

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


@pytest.fixture
def fake() -> Iterator[FakePartner]:
    partner = FakePartner()
    yield partner
    partner.stop()
    assert partner.errors == []  # every request was read and answered (or given up on)


@pytest.fixture
def client_of() -> Iterator[Callable[..., PartnerClient]]:
    """Makes clients; their pooled sessions (of this thread) are closed after the test."""
    made: list[PartnerClient] = []

    def make(
        partner: Partner, secrets: dict[str, str] | None = None, egress: EgressPolicy = LOCAL
    ) -> PartnerClient:
        client = PartnerClient(partner, secrets or {}, egress)
        made.append(client)
        return client

    yield make
    for client in made:
        client._session().close()


def partner_at(fake: FakePartner, **fields: Any) -> Partner:
    partner = Partner(
        id="fibreco",
        name="FibreCo",
        base_url=fake.url + API,
        party={"@type": "PartyRef", "id": "org-fibreco"},
        connect_timeout=2.0,
        read_timeout=5.0,
    )
    return replace(partner, **fields)


def oauth2_at(fake: FakePartner, scope: str | None = "troubleTicket") -> OAuth2:
    return OAuth2(
        token_url=fake.url + TOKEN_PATH,
        client_id="operator-1",
        client_secret_env="FIBRECO_CLIENT_SECRET",
        scope=scope,
    )


SECRETS = {"FIBRECO_TOKEN": "s3cr3t-token", "FIBRECO_CLIENT_SECRET": "client-s3cr3t"}


def oauth2_client(
    fake: FakePartner, client_of: Callable[..., PartnerClient], **fields: Any
) -> PartnerClient:
    return client_of(partner_at(fake, oauth2=oauth2_at(fake, **fields)), SECRETS)


def api_calls(fake: FakePartner) -> list[Seen]:
    return [s for s in fake.seen if s.path != TOKEN_PATH]


def authorizations(fake: FakePartner) -> list[str | None]:
    return [s.headers.get("authorization") for s in api_calls(fake)]


def dropped_answer(failed: pytest.ExceptionInfo[PartnerError]) -> requests.Response:
    """The answer ``PartnerClient._send`` raised over (a local of its frame)."""
    [frame] = [entry.frame for entry in failed.traceback if entry.name == "_send"]
    return frame.f_locals["response"]  # type: ignore[no-any-return]


class FakeMonotonic:
    """Stands in for the module's ``time``: the client's token clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


# -- requests and their authorization ----------------------------------------------------------


class TestRequests:
    def test_a_call_goes_to_the_base_url_with_the_bearer_token_of_the_partner(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(OK)
        client = client_of(partner_at(fake, bearer_token_env="FIBRECO_TOKEN"), SECRETS)
        answer = client.call(
            "GET", "/troubleTicket", params={"externalIdentifier.id": "TT-1/a1", "limit": 1}
        )
        assert (answer.status_code, answer.json()) == (200, {"id": "P-9", "status": "inProgress"})
        [seen] = fake.seen
        assert seen.method == "GET"
        assert seen.path == f"{API}/troubleTicket?externalIdentifier.id=TT-1%2Fa1&limit=1"
        assert seen.headers["authorization"] == "Bearer s3cr3t-token"
        assert seen.headers["user-agent"] == USER_AGENT == "troubleticket-partner-client"
        assert seen.headers["accept"] == "application/json"

    def test_a_partner_without_auth_gets_no_authorization(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(OK)
        client_of(partner_at(fake)).call("GET", "/troubleTicket/P-9")
        assert "authorization" not in fake.seen[0].headers

    def test_the_body_and_headers_of_a_call_are_sent_as_given(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(Reply(201, {"id": "P-9"}), OK)
        client = client_of(partner_at(fake, bearer_token_env="FIBRECO_TOKEN"), SECRETS)
        created = client.call("POST", "/troubleTicket", json={"@type": "TroubleTicket"})
        patch = json.dumps({"status": "cancelled"})
        merge = {"Content-Type": "application/merge-patch+json"}
        patched = client.call("PATCH", "/troubleTicket/P-9", data=patch, headers=merge)
        assert (created.status_code, patched.status_code) == (201, 200)
        posted, sent = fake.seen
        assert json.loads(posted.body) == {"@type": "TroubleTicket"}
        assert posted.headers["content-type"] == "application/json"
        assert (sent.method, sent.path, sent.body) == (
            "PATCH",
            f"{API}/troubleTicket/P-9",
            patch.encode(),
        )
        assert sent.headers["content-type"] == "application/merge-patch+json"
        # the caller's headers come on top of the client's own, not instead of them
        assert sent.headers["authorization"] == "Bearer s3cr3t-token"
        assert sent.headers["accept"] == "application/json"

    def test_a_bearer_token_refused_is_answered_as_is_without_a_retry(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(UNAUTHORIZED, OK)
        client = client_of(partner_at(fake, bearer_token_env="FIBRECO_TOKEN"), SECRETS)
        assert client.call("GET", "/troubleTicket/P-9").status_code == 401
        assert len(fake.seen) == 1

    def test_an_answer_other_than_401_is_answered_as_is(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(token("tok-1"), Reply(403, b"forbidden"), Reply(409, b"x"), Reply(503))
        client = oauth2_client(fake, client_of)
        answers = [client.call("GET", "/troubleTicket/P-9") for _ in range(3)]
        assert [a.status_code for a in answers] == [403, 409, 503]
        assert answers[0].text == "forbidden"
        assert len(fake.seen) == 4  # one token, three calls


class TestOAuth2:
    def test_the_token_comes_from_a_client_credentials_form_post(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(token("tok-1"), OK)
        client = oauth2_client(fake, client_of)
        assert client.call("GET", "/troubleTicket/P-9").status_code == 200
        asked, called = fake.seen
        assert (asked.method, asked.path) == ("POST", TOKEN_PATH)
        assert asked.headers["content-type"] == "application/x-www-form-urlencoded"
        assert asked.form() == {
            "grant_type": ["client_credentials"],
            "client_id": ["operator-1"],
            "client_secret": ["client-s3cr3t"],
            "scope": ["troubleTicket"],
        }
        assert "authorization" not in asked.headers
        assert called.path == f"{API}/troubleTicket/P-9"
        assert called.headers["authorization"] == "Bearer tok-1"

    def test_no_scope_is_asked_for_when_none_is_configured(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(token("tok-1"), OK)
        oauth2_client(fake, client_of, scope=None).call("GET", "/troubleTicket/P-9")
        assert "scope" not in fake.seen[0].form()

    def test_the_token_is_reused_for_later_calls(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(token("tok-1"), OK, OK, OK)
        client = oauth2_client(fake, client_of)
        for _ in range(3):
            assert client.call("GET", "/troubleTicket/P-9").status_code == 200
        assert fake.paths() == [f"POST {TOKEN_PATH}"] + [f"GET {API}/troubleTicket/P-9"] * 3
        assert authorizations(fake) == ["Bearer tok-1"] * 3

    @pytest.mark.parametrize(
        ("expires_in", "still_valid_after", "renewed_after"),
        [
            (120, 89.0, 90.5),  # renewed half a minute before it expires
            (None, 269.0, 270.5),  # 300 s when the token endpoint does not say
            (20, 0.9, 1.1),  # never sooner than a second
        ],
    )
    def test_an_expiring_token_is_renewed_before_it_expires(
        self,
        fake: FakePartner,
        client_of: Callable[..., PartnerClient],
        monkeypatch: pytest.MonkeyPatch,
        expires_in: float | None,
        still_valid_after: float,
        renewed_after: float,
    ) -> None:
        clock = FakeMonotonic()
        monkeypatch.setattr(partners_module, "time", clock)
        fake.script(token("tok-1", expires_in), OK, OK, token("tok-2", expires_in), OK)
        client = oauth2_client(fake, client_of)
        start = clock.now
        client.call("GET", "/troubleTicket/P-9")
        clock.now = start + still_valid_after
        client.call("GET", "/troubleTicket/P-9")
        clock.now = start + renewed_after
        client.call("GET", "/troubleTicket/P-9")
        assert [s.path for s in fake.seen].count(TOKEN_PATH) == 2
        assert authorizations(fake) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]

    def test_a_401_makes_one_retry_with_a_new_token(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(token("tok-1"), UNAUTHORIZED, token("tok-2"), Reply(201, {"id": "P-9"}), OK)
        client = oauth2_client(fake, client_of)
        answer = client.call("POST", "/troubleTicket", json={"name": "Repair the line"})
        assert answer.status_code == 201
        assert fake.paths() == [
            f"POST {TOKEN_PATH}",
            f"POST {API}/troubleTicket",
            f"POST {TOKEN_PATH}",
            f"POST {API}/troubleTicket",
        ]
        first, again = api_calls(fake)
        assert first.headers["authorization"] == "Bearer tok-1"
        assert again.headers["authorization"] == "Bearer tok-2"
        assert json.loads(again.body) == json.loads(first.body) == {"name": "Repair the line"}
        # the new token is kept for what follows
        client.call("GET", "/troubleTicket/P-9")
        assert authorizations(fake)[-1] == "Bearer tok-2"
        assert [s.path for s in fake.seen].count(TOKEN_PATH) == 2

    def test_a_second_401_is_answered_without_a_third_try(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(token("tok-1"), UNAUTHORIZED, token("tok-2"), UNAUTHORIZED, OK)
        answer = oauth2_client(fake, client_of).call("GET", "/troubleTicket/P-9")
        assert answer.status_code == 401
        assert len(fake.seen) == 4
        assert authorizations(fake) == ["Bearer tok-1", "Bearer tok-2"]

    @pytest.mark.parametrize(
        "refusal",
        [
            Reply(400, {"error": "invalid_client"}),
            Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}),
            Reply(200, {"token_type": "Bearer"}),
            Reply(200, ["tok-1"]),
        ],
        ids=["refused", "not JSON", "no access_token", "not an object"],
    )
    def test_no_token_is_a_partner_error_and_the_partner_is_not_called(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient], refusal: Reply
    ) -> None:
        fake.script(refusal, OK)
        with pytest.raises(PartnerError) as failed:
            oauth2_client(fake, client_of).call("GET", "/troubleTicket/P-9")
        assert str(failed.value) == f"no access token from {fake.url}{TOKEN_PATH}"
        assert failed.value.status == refusal.status
        assert fake.paths() == [f"POST {TOKEN_PATH}"]


# -- what the transport does -------------------------------------------------------------------


class TestTransport:
    def test_the_connect_and_read_timeouts_are_the_partners(
        self,
        fake: FakePartner,
        client_of: Callable[..., PartnerClient],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        timeouts: list[Any] = []
        original = requests.Session.request

        def recording(session: requests.Session, *args: Any, **kwargs: Any) -> Any:
            timeouts.append(kwargs.get("timeout"))
            return original(session, *args, **kwargs)

        monkeypatch.setattr(requests.Session, "request", recording)
        fake.script(token("tok-1"), OK)
        partner = partner_at(fake, oauth2=oauth2_at(fake), connect_timeout=1.5, read_timeout=7.0)
        client_of(partner, SECRETS).call("GET", "/troubleTicket/P-9")
        assert timeouts == [(1.5, 7.0), (1.5, 7.0)]  # the token request too

    def test_a_partner_slower_than_the_read_timeout_is_a_partner_error(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(Reply(200, {"id": "P-9"}, delay=LONG_WAIT_S))
        client = client_of(partner_at(fake, read_timeout=0.2))
        began = time.monotonic()
        with pytest.raises(PartnerError) as failed:
            client.call("GET", "/troubleTicket/P-9")
        assert time.monotonic() - began < LONG_WAIT_S / 2
        assert str(failed.value).startswith("ReadTimeout: ")
        assert failed.value.status is None

    def test_a_partner_that_is_not_there_is_a_partner_error(
        self, client_of: Callable[..., PartnerClient]
    ) -> None:
        with socket.socket() as probe:  # a port nobody listens on once it is closed
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        partner = replace(
            Partner(id="gone", name="Gone", base_url=f"http://127.0.0.1:{port}", party={}),
            connect_timeout=1.0,
        )
        with pytest.raises(PartnerError) as failed:
            client_of(partner).call("GET", "/troubleTicket")
        assert str(failed.value).startswith("ConnectionError: ")
        assert len(str(failed.value)) <= 500

    def test_a_partner_on_an_address_the_egress_policy_refuses_is_never_connected_to(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        client = client_of(partner_at(fake), egress=EgressPolicy())
        with pytest.raises(PartnerError) as failed:
            client.call("GET", "/troubleTicket")
        assert "refused: 127.0.0.1 is a loopback address" in str(failed.value)
        assert fake.seen == []

    def test_a_redirect_is_answered_not_followed(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        elsewhere = f"{fake.url}/elsewhere/troubleTicket/P-9"
        fake.script(Reply(302, b"", {"Location": elsewhere}), OK)
        client = client_of(partner_at(fake, bearer_token_env="FIBRECO_TOKEN"), SECRETS)
        answer = client.call("GET", "/troubleTicket/P-9")
        assert answer.status_code == 302
        assert answer.headers["Location"] == elsewhere
        assert fake.paths() == [f"GET {API}/troubleTicket/P-9"]

    def test_an_answer_of_the_largest_size_is_read_whole(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        assert MAX_BODY_BYTES == 1 << 20
        fake.script(Reply(200, b"x" * MAX_BODY_BYTES))
        answer = client_of(partner_at(fake)).call("GET", "/troubleTicket")
        assert answer.content == b"x" * MAX_BODY_BYTES

    def test_an_answer_over_the_largest_size_is_a_partner_error(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        # one byte over, with its Content-Length: the client reads it to its end, which closes it
        fake.script(Reply(200, b"x" * (MAX_BODY_BYTES + 1)))
        with pytest.raises(PartnerError) as failed:
            client_of(partner_at(fake)).call("GET", "/troubleTicket")
        url = f"{fake.url}{API}/troubleTicket"
        assert str(failed.value) == f"GET {url}: answer over {MAX_BODY_BYTES} bytes"
        assert failed.value.status is None

    @pytest.mark.parametrize(
        ("size", "length"),
        [(MAX_BODY_BYTES + 1, None), (2 * MAX_BODY_BYTES, "auto")],
        ids=["until close", "twice the size"],
    )
    def test_an_answer_over_the_largest_size_is_closed_at_once(
        self,
        fake: FakePartner,
        client_of: Callable[..., PartnerClient],
        size: int,
        length: Any,
    ) -> None:
        fake.script(Reply(200, b"x" * size, length=length))
        with pytest.raises(PartnerError, match="answer over") as failed:
            client_of(partner_at(fake)).call("GET", "/troubleTicket")
        answer = dropped_answer(failed)
        try:
            assert answer.raw.closed
        finally:
            answer.close()  # so that the leak does not warn in some later test

    def test_a_compressed_answer_is_bounded_by_its_decoded_size(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        bomb = gzip.compress(b" " * (4 * MAX_BODY_BYTES))
        assert len(bomb) < MAX_BODY_BYTES // 100
        small = gzip.compress(json.dumps({"id": "P-9"}).encode())
        fake.script(
            Reply(200, small, {"Content-Encoding": "gzip"}),
            Reply(200, bomb, {"Content-Encoding": "gzip"}),
        )
        client = client_of(partner_at(fake))
        assert client.call("GET", "/troubleTicket/P-9").json() == {"id": "P-9"}
        with pytest.raises(PartnerError, match="answer over"):
            client.call("GET", "/troubleTicket/P-9")

    def test_a_partner_stalling_in_the_middle_of_its_answer_is_a_partner_error(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(Reply(200, b'{"id": ', length=64, then_wait=LONG_WAIT_S))
        with pytest.raises(PartnerError):
            client_of(partner_at(fake, read_timeout=0.2)).call("GET", "/troubleTicket/P-9")

    def test_an_answer_cut_short_is_a_partner_error(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        fake.script(Reply(200, b'{"id": ', length=64))
        with pytest.raises(PartnerError):
            client_of(partner_at(fake)).call("GET", "/troubleTicket/P-9")

    def test_the_fake_partner_got_every_request_it_answered(
        self, fake: FakePartner, client_of: Callable[..., PartnerClient]
    ) -> None:
        # the harness itself: an unscripted request is answered 500 and recorded
        answer = client_of(partner_at(fake)).call("DELETE", "/troubleTicket/P-9")
        assert answer.status_code == 500
        assert fake.paths() == [f"DELETE {API}/troubleTicket/P-9"]
