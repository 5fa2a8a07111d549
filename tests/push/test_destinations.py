"""Where push messages may go (issue 21, point 1): a push resource that is not a public
address, in whatever spelling, is refused at registration over HTTP (403 with the draft's
``invalid-subscription`` and a reason); hosts the operator lists in ``allow_hosts`` are
taken as written; and the sender connects only to addresses that passed the check, so a
name that resolves elsewhere by the time a message goes (DNS rebinding) reaches nothing,
while the Host header, SNI and certificate check stay those of the name. No test here
sends a packet anywhere but 127.0.0.1: other answers come from fake resolvers."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bridge.config import PushConfig
from bridge.push.destination import DestinationRefused, Destinations, Resolver
from bridge.push.protocol import push_message
from bridge.push.transport import GuardedBackend, guarded_client
from bridge.push.vapid import Vapid, new_private_key
from bridge.push.webpush import Delivery, Outcome, send
from bridge.store.push import PushStore

from .conftest import NS, PushServer, PushService

PUBLIC = "93.184.215.14"  # a public address: only ever handed to fake connections
ALLOWED = ("push.internal.example", "10.9.8.7")


@pytest.fixture
def push_settings() -> PushConfig:
    """Unlike the other modules': 127.0.0.1 is not allowed here, two other hosts are."""
    return PushConfig(contact="mailto:admin@example.org", allow_http=True, allow_hosts=ALLOWED)


# -- the spellings, refused over HTTP ----------------------------------------------------

REFUSED = {
    "loopback": "https://127.0.0.1:8443/push/x",
    "own-port": "http://127.0.0.1:{port}/alice/work/",
    "own-port-localhost": "https://localhost:{port}/",
    "localhost": "https://localhost/push/x",
    "ipv6-loopback": "https://[::1]/push/x",
    "hex": "https://0x7f000001/push/x",
    "decimal": "https://2130706433/push/x",
    "octal": "https://0177.0.0.1/push/x",
    "octal-single": "https://017700000001/push/x",
    "short": "https://127.1/push/x",
    "mixed-hex": "https://0x7f.1/push/x",
    "zero": "https://0/push/x",
    "unspecified": "https://0.0.0.0/push/x",
    "ipv6-unspecified": "https://[::]/push/x",
    "metadata": "https://169.254.169.254/latest/meta-data/",
    "private-10": "https://10.0.0.1/admin",
    "private-172": "https://172.16.0.1/push/x",
    "private-192": "https://192.168.1.1/push/x",
    "shared-cgnat": "https://100.64.0.1/push/x",
    "multicast": "https://224.0.0.1/push/x",
    "broadcast": "https://255.255.255.255/push/x",
    "reserved": "https://240.0.0.1/push/x",
    "link-local-v6": "https://[fe80::1]/push/x",
    "unique-local": "https://[fd00::1]/push/x",
    "multicast-v6": "https://[ff02::1]/push/x",
    "mapped": "https://[::ffff:127.0.0.1]/push/x",
    "mapped-hex": "https://[::ffff:7f00:1]/push/x",
    "mapped-private": "https://[::ffff:10.0.0.1]/push/x",
    "6to4-loopback": "https://[2002:7f00:1::1]/push/x",
    "6to4-private": "https://[2002:c0a8:101::1]/push/x",
    "nat64-loopback": "https://[64:ff9b::7f00:1]/push/x",
    "teredo": "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/push/x",
    "allowed-host-other-spelling": "https://0x0a090807/push/x",  # 10.9.8.7, not as listed
    "allowed-host-neighbour": "https://10.9.8.8/push/x",
}


@pytest.mark.parametrize("resource", REFUSED.values(), ids=REFUSED.keys())
def test_a_push_resource_that_is_not_public_is_refused(
    push_server: PushServer, resource: str
) -> None:
    port = push_server.url.rsplit(":", 1)[1].strip("/")
    subscriber = push_server.service.subscriber("target")
    body = subscriber.register_body().replace(subscriber.endpoint, resource.format(port=port))
    response = push_server.alice.post(
        push_server.book_url, content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 403, response.text
    error = ET.fromstring(response.content)
    assert error.find("P:invalid-subscription", NS) is not None
    reason = error.findtext("{urn:x-aurinko-bridge}reason") or ""
    assert "public" in reason, reason
    assert PushStore(push_server.engine.db).live(push_server.book.id, time.time()) == []


@pytest.mark.parametrize(
    "resource", ["https://push.internal.example/push/x", "http://10.9.8.7:8080/push/x"]
)
def test_a_host_the_operator_allows_is_taken_as_written(
    push_server: PushServer, resource: str
) -> None:
    subscriber = push_server.service.subscriber("internal")
    body = subscriber.register_body().replace(subscriber.endpoint, resource)
    response = push_server.alice.post(
        push_server.book_url, content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 201, response.text


# -- the check itself, on answers of a fake resolver ------------------------------------


def resolver(answers: dict[str, list[str]]) -> Resolver:
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise DestinationRefused(f"{host} does not resolve")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("answers", "refused"),
    [
        ([PUBLIC], False),
        (["2606:4700:4700::1111"], False),
        (["2002:5db8:d70e::1"], False),  # 6to4 of a public address
        (["64:ff9b::5db8:d70e"], False),  # NAT64 of a public address
        (["127.0.0.1"], True),
        ([PUBLIC, "10.0.0.7"], True),  # one private answer among public ones
        (["fe80::1%eth0"], True),
        ([], True),
    ],
)
def test_a_name_is_judged_by_every_address_it_resolves_to(
    answers: list[str], refused: bool
) -> None:
    destinations = Destinations(resolve=resolver({"push.example": answers}))
    if refused:
        with pytest.raises(DestinationRefused):
            destinations.check_url("https://push.example/x")
    else:
        destinations.check_url("https://push.example/x")
    with pytest.raises(DestinationRefused, match="does not resolve"):
        destinations.check_url("https://nowhere.example/x")


@dataclass
class FakeConnections(httpcore.NetworkBackend):
    """Stands for the sockets: notes where each connection would go, opens none."""

    tried: list[tuple[str, int]] = field(default_factory=list)

    def connect_tcp(
        self, host: str, port: int, *args: object, **kwargs: object
    ) -> httpcore.NetworkStream:
        self.tried.append((host, port))
        raise httpcore.ConnectError("not in a test")


def test_the_sender_connects_only_to_an_address_that_passed_the_check() -> None:
    """DNS rebinding: the name answers a public address, then (the attacker's TTL of 0)
    127.0.0.1. The connection goes to the checked answer, never to a fresh lookup."""
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])
    connections = FakeConnections()
    backend = GuardedBackend(Destinations(resolve=lambda host, port: next(answers)), connections)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("push.example", 443, 3.0)
    assert connections.tried == [(PUBLIC, 443)]
    with pytest.raises(httpcore.ConnectError, match="refused"):
        backend.connect_tcp("push.example", 443, 3.0)  # now it points home: refused
    assert connections.tried == [(PUBLIC, 443)]  # no connection tried for it

    mixed = GuardedBackend(
        Destinations(resolve=lambda host, port: [PUBLIC, "127.0.0.1"]), connections
    )
    with pytest.raises(httpcore.ConnectError, match="refused"):
        mixed.connect_tcp("push.example", 443, 3.0)
    assert connections.tried == [(PUBLIC, 443)]


def test_a_name_that_now_resolves_to_this_machine_gets_no_message(
    push_service: PushService,
) -> None:
    """The push service on 127.0.0.1 stands for the operator's internal service: reached
    through a name that resolves there, only when the operator allowed that name, and
    then with the name in ``Host``."""
    phone = push_service.subscriber("phone")
    port = push_service.url.rsplit(":", 1)[1]
    subscription = phone.subscription(f"http://push.example:{port}/push/phone")
    vapid = Vapid(new_private_key(), "mailto:admin@example.org")
    payload = push_message("topic", "token-1")
    to_loopback = resolver({"push.example": ["127.0.0.1"]})

    with guarded_client(Destinations(resolve=to_loopback)) as client:
        outcome = send(client, vapid, subscription, payload, "topic", Delivery())
    assert outcome is Outcome.FAILED
    assert phone.messages == []

    allowed = Destinations(["push.example"], resolve=to_loopback)
    with guarded_client(allowed) as client:
        outcome = send(client, vapid, subscription, payload, "topic", Delivery())
    assert outcome is Outcome.SENT
    (message,) = phone.wait(1)
    assert message.headers["host"] == f"push.example:{port}"


# -- TLS: the name is what is verified ---------------------------------------------------


@dataclass
class TLSService:
    url_port: int
    trust: ssl.SSLContext
    names: list[str | None] = field(default_factory=list)  # SNI of each handshake
    hosts: list[str] = field(default_factory=list)  # Host of each request


def certificate(name: str, directory: Path) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, pem


@pytest.fixture
def tls_service(tmp_path: Path) -> Iterator[TLSService]:
    """An https push service on 127.0.0.1 whose certificate names push.example only."""
    cert_file, key_file, pem = certificate("push.example", tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []

    def heard(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = heard
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hosts.append(self.headers.get("Host", ""))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    trust = ssl.create_default_context(cadata=pem.decode())
    yield TLSService(server.server_port, trust, names, hosts)
    server.shutdown()
    server.server_close()


def test_tls_is_verified_for_the_name_while_connecting_to_the_checked_address(
    tls_service: TLSService, push_service: PushService
) -> None:
    phone = push_service.subscriber("phone")  # only for its keys
    vapid = Vapid(new_private_key(), "mailto:admin@example.org")
    payload = push_message("topic", "token-1")
    to_loopback = resolver({"push.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    destinations = Destinations(["push.example", "other.example"], resolve=to_loopback)
    port = tls_service.url_port

    with guarded_client(destinations, verify=tls_service.trust) as client:
        good = phone.subscription(f"https://push.example:{port}/push/phone")
        assert send(client, vapid, good, payload, "topic", Delivery()) is Outcome.SENT
        # The same address under a name the certificate does not carry: refused by TLS.
        other = phone.subscription(f"https://other.example:{port}/push/phone")
        assert send(client, vapid, other, payload, "topic", Delivery()) is Outcome.FAILED
    assert tls_service.names[0] == "push.example"
    assert tls_service.hosts == [f"push.example:{port}"]
