"""
A certificate authority of a test's own, for the servers tests start over HTTPS (the sandbox as the API is
served, the deployment tier's sandbox): its CA bundle to trust and a server certificate it signed; and a bare
TLS server that counts the connections it accepts.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: What :func:`bundles_loaded` records for a connection that loads no CA bundle (its context holds the trust).
NO_BUNDLE = (None, None, None)
#: How long a test server's ``/together`` waits for its requests, in seconds.
DEADLINE = 10.0


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, hosts: tuple[str, ...] = ()
):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        names = [_general_name(host) for host in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem(certificate: Any) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


class Authority:
    """
    A CA of the test's own, and a server certificate it signed for ``hosts`` only (names or addresses).

    :param folder: where its files go.
    :param name: the CA's name.
    :param hosts: what the server certificate names.
    """

    def __init__(self, folder: Path, name: str, hosts: tuple[str, ...] = ("localhost",)) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate(name, ca_key, name, ca_key, ca=True)
        self.bundle = folder / f"{name}.pem"
        self.bundle.write_bytes(_pem(ca))
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate(hosts[0], server_key, name, ca_key, ca=False, hosts=hosts)
        self.chain = folder / f"{name}-server.pem"
        self.chain.write_bytes(_pem(server) + _pem(ca))
        self.key = folder / f"{name}-server.key"
        self.key.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


def corporate_bundle(ca_bundle: Path) -> Path:
    """
    Write, beside a CA's bundle, one that trusts ``certifi``'s authorities and that CA (the shape of a
    corporate bundle, as ``REQUESTS_CA_BUNDLE`` names one); return its path.

    :param ca_bundle: the CA's own bundle (:attr:`Authority.bundle`).
    """
    import certifi

    bundle = ca_bundle.with_name(f"certifi-and-{ca_bundle.name}")
    bundle.write_bytes(Path(certifi.where()).read_bytes() + ca_bundle.read_bytes())
    return bundle


class TlsServer(ThreadingHTTPServer):
    """Answers every request with ``{}``, keeps connections alive, counts the connections it accepted."""

    daemon_threads = True

    def __init__(self, authority: Authority) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(authority.chain, authority.key)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.accepted = 0
        self.lock = threading.Lock()
        #: What ``/together`` waits for: that many requests in flight at once (each on a connection of its own).
        self.together: threading.Barrier | None = None

    def get_request(self) -> Any:
        connection, address = self.socket.accept()
        with self.lock:
            self.accepted += 1
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that refused the certificate closes the handshake: expected here

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        together = self.server.together  # type: ignore[attr-defined]
        if self.path.startswith("/together") and together is not None:
            together.wait(DEADLINE)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@contextmanager
def bundles_loaded() -> Iterator[list[tuple[Any, Any, Any]]]:
    """
    Record, for each new TLS connection ``urllib3`` opens inside the block, the CA bundle it is given to load
    (``ca_certs``, ``ca_cert_dir``, ``ca_cert_data``): :data:`NO_BUNDLE` when it loads none.
    """
    import urllib3.connection

    loaded: list[tuple[Any, Any, Any]] = []
    wrap = urllib3.connection.ssl_wrap_socket

    def recording(*args: Any, **kwargs: Any) -> Any:
        loaded.append((kwargs.get("ca_certs"), kwargs.get("ca_cert_dir"), kwargs.get("ca_cert_data")))
        return wrap(*args, **kwargs)

    urllib3.connection.ssl_wrap_socket = recording  # type: ignore[assignment]
    try:
        yield loaded
    finally:
        urllib3.connection.ssl_wrap_socket = wrap  # type: ignore[assignment]
