"""The egress guard: registration-time URL checks and connect-time checks (DNS rebinding).

Refusals of IP literals and ``localhost`` use the real system resolver; names use a scripted
resolver. Connect-time tests run a small HTTP server on 127.0.0.1 and check what reached it.
"""

from __future__ import annotations

import datetime
import ipaddress
import pickle
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from troubleticket.notify.egress import (
    EgressConnectionRefused,
    EgressPolicy,
    EgressRefused,
    system_resolver,
)

LOOPBACK = ipaddress.ip_network("127.0.0.1/32")
PUBLIC = "93.184.216.34"


class ScriptedResolver:
    """Answers per name: a list of answers used in turn, the last one repeating."""

    def __init__(self, **answers: list[list[str]]) -> None:
        self.answers = {name.replace("_", "."): list(seq) for name, seq in answers.items()}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        seq = self.answers.get(host)
        if seq is None:
            raise socket.gaierror(socket.EAI_NONAME, f"unknown name {host}")
        return seq.pop(0) if len(seq) > 1 else list(seq[0])


# -- registration time: check_url ----------------------------------------------------------


REFUSED = [
    ("http://127.0.0.1/", "127.0.0.1", "loopback"),
    ("http://127.1/", "127.1", "loopback"),
    ("http://2130706433/", "2130706433", "loopback"),
    ("http://0x7f000001/", "0x7f000001", "loopback"),
    ("http://0177.0.0.1/", "0177.0.0.1", "loopback"),
    ("http://localhost:8080/", "localhost", "loopback"),
    ("http://10.0.0.1/", "10.0.0.1", "private"),
    ("http://172.16.5.4/", "172.16.5.4", "private"),
    ("http://192.168.1.1/", "192.168.1.1", "private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
    ("http://100.64.0.1/", "100.64.0.1", "not global"),
    ("http://0.0.0.0/", "0.0.0.0", "unspecified"),
    ("http://[::1]/", "::1", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", "loopback"),
    ("http://[::ffff:7f00:1]/", "::ffff:7f00:1", "loopback"),
    ("http://[fe80::1]/", "fe80::1", "link-local"),
    ("http://[fc00::1]/", "fc00::1", "private"),
    ("http://224.0.0.1/", "224.0.0.1", "multicast"),
    ("http://239.255.255.250/", "239.255.255.250", "multicast"),
    ("http://255.255.255.255/", "255.255.255.255", "reserved"),
    ("http://198.18.0.1/", "198.18.0.1", "private"),
    ("http://192.0.2.1/", "192.0.2.1", "private"),
    ("http://[::]/", "::", "unspecified"),
    ("http://[ff02::1]/", "ff02::1", "multicast"),
    ("http://240.0.0.1/", "240.0.0.1", "reserved"),
    ("http://192.0.0.1/", "192.0.0.1", "private"),
    ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1", "loopback"),
    ("https://[2002:7f00:1::]/", "2002:7f00:1::", "loopback"),
    ("https://[::ffff:a9fe:a9fe]/latest/", "::ffff:a9fe:a9fe", "link-local"),
]


@pytest.mark.parametrize(("url", "host", "category"), REFUSED, ids=[r[0] for r in REFUSED])
def test_internal_addresses_are_refused(url: str, host: str, category: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        EgressPolicy().check_url(url)
    assert refused.value.url == url
    assert refused.value.host == host
    assert refused.value.address is not None
    assert host in refused.value.message
    assert category in refused.value.message
    assert str(refused.value) == refused.value.message


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "example.com/path", ""],
)
def test_schemes_other_than_http_and_https_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused, match="is not http or https") as refused:
        EgressPolicy(resolver=ScriptedResolver(example_com=[[PUBLIC]])).check_url(url)
    assert refused.value.address is None


@pytest.mark.parametrize("url", ["http:///path", "https://", "http://:8080/"])
def test_a_url_without_host_is_refused(url: str) -> None:
    with pytest.raises(EgressRefused, match="no host"):
        EgressPolicy().check_url(url)


def test_a_url_with_a_bad_port_is_refused() -> None:
    with pytest.raises(EgressRefused, match="not a valid URL"):
        EgressPolicy().check_url("http://example.com:99999/")


def test_a_host_resolving_to_nothing_is_refused() -> None:
    policy = EgressPolicy(resolver=ScriptedResolver(empty_example=[[]]))
    with pytest.raises(EgressRefused, match="resolves to no address") as refused:
        policy.check_url("https://empty.example/hook")
    assert refused.value.host == "empty.example"
    assert refused.value.address is None


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(EgressRefused, match="does not resolve") as refused:
        EgressPolicy(resolver=ScriptedResolver()).check_url("https://nowhere.example/")
    assert refused.value.host == "nowhere.example"


def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    resolver = ScriptedResolver(mixed_example=[[PUBLIC, "10.1.2.3"]])
    with pytest.raises(EgressRefused, match="private") as refused:
        EgressPolicy(resolver=resolver).check_url("https://mixed.example/hook")
    assert refused.value.address == "10.1.2.3"
    assert "mixed.example resolves to 10.1.2.3" in refused.value.message


def test_the_resolver_is_asked_with_the_url_port_or_the_scheme_default() -> None:
    resolver = ScriptedResolver(hub_example=[[PUBLIC]])
    policy = EgressPolicy(resolver=resolver)
    policy.check_url("http://hub.example/")
    policy.check_url("https://hub.example/")
    policy.check_url("HTTPS://Hub.Example:8443/x")
    assert resolver.calls == [("hub.example", 80), ("hub.example", 443), ("hub.example", 8443)]


def test_ip_literals_are_resolved_through_the_resolver() -> None:
    """A literal is judged by what the resolver says a connection would use."""
    resolver = ScriptedResolver(**{"2130706433": [["127.0.0.1"]]})
    with pytest.raises(EgressRefused, match="loopback"):
        EgressPolicy(resolver=resolver).check_url("http://2130706433/")
    assert resolver.calls == [("2130706433", 80)]


def test_a_resolver_answer_that_is_not_an_address_is_refused() -> None:
    resolver = ScriptedResolver(odd_example=[["not-an-address"]])
    with pytest.raises(EgressRefused, match="not an IP address"):
        EgressPolicy(resolver=resolver).check_url("http://odd.example/")


# -- allowed ---------------------------------------------------------------------------------


def test_a_public_address_passes() -> None:
    resolver = ScriptedResolver(hub_example=[[PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]])
    EgressPolicy(resolver=resolver).check_url("https://hub.example/listener?x=1")


def test_a_nat64_address_of_a_public_ipv4_address_passes() -> None:
    EgressPolicy(resolver=ScriptedResolver(v6_example=[["64:ff9b::5db8:d822"]])).check_url(
        "http://v6.example/"
    )


def test_system_resolver_gives_every_address_once() -> None:
    assert system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
    assert system_resolver("0x7f000001", 80) == ["127.0.0.1"]
    assert system_resolver("::1", 443) == ["::1"]


def test_loopback_passes_when_allowed() -> None:
    policy = EgressPolicy(allow=(LOOPBACK,))
    policy.check_url("http://127.0.0.1:8080/hook")
    policy.check_url("http://2130706433/")
    policy.check_address("127.0.0.1")
    policy.check_address("::ffff:127.0.0.1")  # the mapped IPv4 address is in the allow-list
    with pytest.raises(EgressRefused, match="loopback"):
        policy.check_address("127.0.0.2")
    with pytest.raises(EgressRefused, match="loopback"):
        policy.check_address("::1")


def test_check_address() -> None:
    policy = EgressPolicy()
    policy.check_address(PUBLIC)
    policy.check_address("2606:4700::1111")
    with pytest.raises(EgressRefused, match="link-local") as refused:
        policy.check_address("169.254.169.254")
    assert refused.value.address == "169.254.169.254"
    assert refused.value.url is None
    with pytest.raises(EgressRefused, match="not an IP address"):
        policy.check_address("example.com")


def test_from_setting_parses_networks_and_addresses() -> None:
    policy = EgressPolicy.from_setting(" 127.0.0.1/32, 10.0.0.0/8,::1 ,, 192.168.1.7 ")
    assert policy.allow == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("192.168.1.7/32"),
    )
    policy.check_address("10.200.0.1")
    policy.check_address("192.168.1.7")
    with pytest.raises(EgressRefused):
        policy.check_address("192.168.1.8")
    assert EgressPolicy.from_setting("").allow == ()
    assert EgressPolicy.from_setting(" , ").allow == ()


@pytest.mark.parametrize("item", ["localhost", "10.0.0.0/33", "10.0.0.1/8", "::1/200", "1.2.3"])
def test_from_setting_rejects_bad_items_by_name(item: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(item))):
        EgressPolicy.from_setting(f"127.0.0.1/32, {item}")


def test_a_refusal_survives_pickling() -> None:
    refusal = EgressRefused("no", url="http://x/", host="x", address="127.0.0.1")
    copy = pickle.loads(pickle.dumps(refusal))
    assert (copy.message, copy.url, copy.host, copy.address) == (
        "no",
        "http://x/",
        "x",
        "127.0.0.1",
    )


# -- connect time ----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _RecordingServer

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host")))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RecordingServer(HTTPServer):
    """Counts every connection it accepts and records (path, Host) of every request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.seen: list[tuple[str, str | None]] = []
        self.server_names: list[str | None] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    def assert_untouched(self) -> None:
        """Stop serving; then no connection was accepted and none waits to be."""
        self.shutdown()
        assert self.connections == 0
        assert self.seen == []
        self.socket.setblocking(False)
        with pytest.raises(BlockingIOError):
            conn, _ = self.socket.accept()
            conn.close()


@contextmanager
def local_server(tls: ssl.SSLContext | None = None) -> Iterator[_RecordingServer]:
    server = _RecordingServer()
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _ctx: server.server_names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


def test_dns_rebinding_is_refused_at_connect_time() -> None:
    with local_server() as server:
        resolver = ScriptedResolver(rebind_example=[[PUBLIC], ["127.0.0.1"]])
        policy = EgressPolicy(resolver=resolver)
        url = f"http://rebind.example:{server.port}/hook"
        policy.check_url(url)  # at registration the name is public

        with policy.session() as session, pytest.raises(requests.ConnectionError) as refused:
            session.post(url, json={"event": 1}, allow_redirects=False, timeout=5)

        assert isinstance(refused.value, EgressConnectionRefused)
        assert "refused" in str(refused.value)
        assert "127.0.0.1" in str(refused.value)
        assert refused.value.refusal.address == "127.0.0.1"
        assert refused.value.refusal.host == "rebind.example"
        assert refused.value.refusal.url == url
        assert resolver.calls == [("rebind.example", server.port)] * 2
        server.assert_untouched()


def test_a_connect_time_refusal_is_a_request_exception() -> None:
    policy = EgressPolicy(resolver=ScriptedResolver(meta_example=[["169.254.169.254"]]))
    with policy.session() as session:
        try:
            session.get("http://meta.example/latest/meta-data/", timeout=5)
        except requests.RequestException as e:
            assert "link-local" in str(e)
        else:
            pytest.fail("the request was not refused")


def test_any_refused_address_refuses_the_connection() -> None:
    with local_server() as server:
        resolver = ScriptedResolver(mixed_example=[[PUBLIC, "127.0.0.1"]])
        # the public address is first: still, nothing is tried
        with (
            EgressPolicy(resolver=resolver).session() as session,
            pytest.raises(EgressConnectionRefused, match="127.0.0.1"),
        ):
            session.get(f"http://mixed.example:{server.port}/", timeout=5)
        server.assert_untouched()


def test_a_name_resolving_to_nothing_at_connect_time_is_refused() -> None:
    policy = EgressPolicy(resolver=ScriptedResolver(gone_example=[[]]))
    with (
        policy.session() as session,
        pytest.raises(EgressConnectionRefused, match="resolves to no address"),
    ):
        session.get("http://gone.example/", timeout=5)


def test_a_name_that_does_not_resolve_is_an_ordinary_connection_error() -> None:
    with (
        EgressPolicy(resolver=ScriptedResolver()).session() as session,
        pytest.raises(requests.ConnectionError) as failed,
    ):
        session.get("http://nowhere.example/", timeout=5)
    assert not isinstance(failed.value, EgressConnectionRefused)
    assert "nowhere.example" in str(failed.value)


def test_an_allowed_address_is_reached_with_the_original_host() -> None:
    with local_server() as server:
        resolver = ScriptedResolver(partner_internal=[["127.0.0.1"]])
        policy = EgressPolicy(allow=(LOOPBACK,), resolver=resolver)
        with policy.session() as session:
            response = session.get(
                f"http://partner.internal:{server.port}/api/x", allow_redirects=False, timeout=5
            )
            assert response.status_code == 200
            assert response.text == "ok"
        assert server.seen == [("/api/x", f"partner.internal:{server.port}")]
        assert resolver.calls == [("partner.internal", server.port)]


def test_a_redirect_that_is_followed_anyway_is_checked_when_it_connects() -> None:
    with local_server() as server:
        resolver = ScriptedResolver(
            partner_internal=[["127.0.0.1"]], **{"169.254.169.254": [["169.254.169.254"]]}
        )
        policy = EgressPolicy(allow=(LOOPBACK,), resolver=resolver)
        with (
            policy.session() as session,
            pytest.raises(EgressConnectionRefused, match="link-local"),
        ):
            session.get(f"http://partner.internal:{server.port}/redirect", timeout=5)
        assert server.seen == [("/redirect", f"partner.internal:{server.port}")]


def test_environment_proxies_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    with local_server() as server:
        resolver = ScriptedResolver(partner_internal=[["127.0.0.1"]])
        policy = EgressPolicy(allow=(LOOPBACK,), resolver=resolver)
        with policy.session() as session:
            response = session.get(f"http://partner.internal:{server.port}/", timeout=5)
            assert response.status_code == 200
        assert len(server.seen) == 1


def test_an_explicit_proxy_is_refused() -> None:
    with local_server() as server:
        policy = EgressPolicy(resolver=ScriptedResolver(hub_example=[[PUBLIC]]))
        with (
            policy.session() as session,
            pytest.raises(EgressConnectionRefused, match="proxy"),
        ):
            session.get(
                "http://hub.example/",
                proxies={"http": f"http://127.0.0.1:{server.port}"},
                timeout=5,
            )
        server.assert_untouched()


# -- connect time over TLS: SNI and the certificate are for the name -----------------------


def _certificates(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA (written to ca.pem) and a certificate for ``name`` it signed (cert.pem, key.pem)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("egress test CA", ca_key, "egress test CA", ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build(name, key, "egress test CA", ca_key, ca=False)

    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_https_verifies_the_certificate_for_the_name_at_a_checked_address(tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path, "partner.internal")
    with local_server(_server_context(cert, key)) as server:
        resolver = ScriptedResolver(partner_internal=[["127.0.0.1"]])
        policy = EgressPolicy(allow=(LOOPBACK,), resolver=resolver)
        with policy.session() as session:
            response = session.get(
                f"https://partner.internal:{server.port}/secure", verify=str(ca), timeout=5
            )
            assert response.status_code == 200
        assert server.server_names == ["partner.internal"]
        assert server.seen == [("/secure", f"partner.internal:{server.port}")]


def test_https_refuses_a_certificate_for_another_name(tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path, "someone.else")
    with local_server(_server_context(cert, key)) as server:
        resolver = ScriptedResolver(partner_internal=[["127.0.0.1"]])
        policy = EgressPolicy(allow=(LOOPBACK,), resolver=resolver)
        with policy.session() as session, pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://partner.internal:{server.port}/", verify=str(ca), timeout=5)
        assert server.seen == []


def test_https_rebinding_is_refused_before_tls() -> None:
    with local_server() as server:
        resolver = ScriptedResolver(rebind_example=[[PUBLIC], ["::ffff:127.0.0.1"]])
        policy = EgressPolicy(resolver=resolver)
        url = f"https://rebind.example:{server.port}/"
        policy.check_url(url)
        with policy.session() as session, pytest.raises(EgressConnectionRefused) as refused:
            session.get(url, timeout=5)
        assert "refused" in str(refused.value)
        assert "::ffff:127.0.0.1" in str(refused.value)
        server.assert_untouched()
