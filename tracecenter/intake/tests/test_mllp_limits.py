"""The MLLP listener's bounds and its senders: connections at once, bytes per connection, silence,
TLS (mutual or not), and the allow-list of sending facilities. Real sockets, real TLS: the
certificates are made here with `cryptography`, as a health department's CA would make them."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.core.management.base import CommandError
from hl7.client import MLLPClient

from tracecenter.audit.models import AuditEntry
from tracecenter.intake.mllp import MllpServer, tls_context
from tracecenter.intake.models import FeedSender, InboundMessage, LabResult
from tracecenter.intake.pipeline import problems_of
from tracecenter.intake.services import feed_sender_add, feed_sender_set_active
from tracecenter.intake.tests.test_mllp import ack_code, free_port, message

SB, EB, CR = b"\x0b", b"\x1c", b"\r"


@pytest.fixture
def start_listener(transactional_db: None, state: Any) -> Iterator[Callable[..., tuple[MllpServer, int]]]:
    """Start a listener (with the settings as the test has set them); every one started is stopped at the end."""
    servers: list[MllpServer] = []

    def start(tls: ssl.SSLContext | None = None) -> tuple[MllpServer, int]:
        port = free_port()
        server = MllpServer(("127.0.0.1", port), state, tls=tls)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server, port

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def read_frame(sock: socket.socket) -> bytes:
    """One MLLP frame from the socket (b"" if it closes first)."""
    received = b""
    while EB not in received:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        received += chunk
    return received.partition(EB)[0].lstrip(SB)


def send(sock: socket.socket, text: str) -> str:
    sock.sendall(SB + text.encode() + EB + CR)
    return read_frame(sock).decode()


def closed_by_the_server(sock: socket.socket, within: float = 5.0) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition was never met"
        time.sleep(0.02)


# --- Connections at once, bytes per connection, silence


def test_a_connection_beyond_the_limit_is_answered_ar_and_closed_while_the_others_are_served(settings, start_listener):
    settings.MLLP_MAX_CONNECTIONS = 1
    server, port = start_listener()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as first:
        assert ack_code(send(first, message(1)))[0] == "AA"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as second:
            ack = send(second, message(2))
            code, errors = ack_code(ack)
            assert code == "AR" and "MSA|AR|MLLP00002" in ack  # its own message acknowledged, refused
            assert "too many connections" in errors[0]
            assert closed_by_the_server(second)
        assert ack_code(send(first, message(3)))[0] == "AA"  # the connection being served goes on
    wait_for(lambda: server.active == 0)
    with MLLPClient("127.0.0.1", port) as client:  # and once it is gone, another is served
        assert ack_code(client.send_message(message(2)).decode())[0] == "AA"
    assert sorted(InboundMessage.objects.values_list("control_id", flat=True)) == ["MLLP00001", "MLLP00002", "MLLP00003"]


def test_a_connection_that_sends_more_than_its_share_is_answered_ar_and_closed(settings, start_listener):
    size = len(message(1).encode()) + 3
    settings.MLLP_MAX_CONNECTION_BYTES = 2 * size + size // 2
    _server, port = start_listener()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert ack_code(send(sock, message(1)))[0] == "AA"
        assert ack_code(send(sock, message(2)))[0] == "AA"
        ack = send(sock, message(3))
        code, errors = ack_code(ack)
        assert code == "AR" and "MSA|AR|MLLP00003" in ack
        assert f"more than {2 * size + size // 2} bytes" in errors[0] and "new connection" in errors[0]
        assert closed_by_the_server(sock)
    assert InboundMessage.objects.count() == 2
    with MLLPClient("127.0.0.1", port) as client:  # a new connection takes it
        assert ack_code(client.send_message(message(3)).decode())[0] == "AA"


def test_a_frame_that_never_ends_is_cut_at_the_connections_share_too(settings, start_listener):
    settings.MLLP_MAX_CONNECTION_BYTES = 100_000
    _server, port = start_listener()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(SB + b"MSH|" + b"x" * 200_000)
        code, _errors = ack_code(read_frame(sock).decode())
        assert code == "AR"
        assert closed_by_the_server(sock)
    assert not InboundMessage.objects.exists()


def test_a_silent_connection_is_closed_after_the_idle_timeout(settings, start_listener):
    settings.MLLP_IDLE_TIMEOUT_SECONDS = 1
    server, port = start_listener()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        assert closed_by_the_server(sock, within=10)
        assert 0.8 < time.monotonic() - started < 5
    wait_for(lambda: server.active == 0)


# --- TLS


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool = False, server: bool = False
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, *items: Any) -> str:
    chunks = []
    for item in items:
        if isinstance(item, x509.Certificate):
            chunks.append(item.public_bytes(serialization.Encoding.PEM))
        else:
            chunks.append(
                item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            )
    path.write_bytes(b"".join(chunks))
    return str(path)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, str]:
    """A CA, the listener's certificate (localhost, 127.0.0.1) and a lab's client certificate, all signed by the CA."""
    authority = "Example State Health Department CA"
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(authority, ca_key, authority, ca_key, ca=True)
    server_key, lab_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = _certificate("mllp.tracecenter.example", server_key, authority, ca_key, server=True)
    lab = _certificate("Example Reference Lab", lab_key, authority, ca_key)
    return {
        "ca": _write(tmp_path / "ca.pem", ca),
        "cert": _write(tmp_path / "server.pem", server),
        "key": _write(tmp_path / "server.key", server_key),
        "lab": _write(tmp_path / "lab.pem", lab, lab_key),
    }


def tls_client(port: int, pki: dict[str, str], *, with_certificate: bool = False) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=pki["ca"])  # the sender checks the listener's certificate
    if with_certificate:
        context.load_cert_chain(pki["lab"])
    return context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")


def test_mllp_over_tls_is_acknowledged_and_stored(pki, start_listener):
    _server, port = start_listener(tls=tls_context(cert=pki["cert"], key=pki["key"]))
    with tls_client(port, pki) as sock:
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        assert ack_code(send(sock, message(1)))[0] == "AA"
        assert ack_code(send(sock, message(2)))[0] == "AA"
    assert InboundMessage.objects.filter(state="processed").count() == 2 and LabResult.objects.count() == 2


def test_a_tls_listener_gives_nothing_to_a_client_speaking_plain_mllp(pki, start_listener):
    _server, port = start_listener(tls=tls_context(cert=pki["cert"], key=pki["key"]))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(SB + message(1).encode() + EB + CR)
        assert b"MSA" not in read_frame(sock)
    assert not InboundMessage.objects.exists()


def test_with_a_client_ca_only_a_sender_with_a_certificate_it_signed_is_served(pki, start_listener):
    _server, port = start_listener(tls=tls_context(cert=pki["cert"], key=pki["key"], client_ca=pki["ca"]))
    try:
        with tls_client(port, pki) as sock:
            answer = send(sock, message(1))  # TLS 1.3 tells the client it was refused on its first read
    except (ssl.SSLError, ConnectionError):
        answer = ""
    assert answer == ""
    assert not InboundMessage.objects.exists()
    with tls_client(port, pki, with_certificate=True) as sock:
        assert ack_code(send(sock, message(2)))[0] == "AA"
    # The delivery is named after the certificate the sender presented.
    assert InboundMessage.objects.get().batch.filename.endswith("(Example Reference Lab)")


def test_the_listener_refuses_to_start_with_half_a_tls_configuration(state, pki, tmp_path):
    with pytest.raises(CommandError, match="both --tls-cert and --tls-key"):
        call_command("mllp_listen", "--tls-key", pki["key"], "--port", str(free_port()), stdout=io.StringIO())
    with pytest.raises(CommandError, match="no such file"):
        call_command(
            "mllp_listen",
            "--tls-cert",
            str(tmp_path / "none.pem"),
            "--tls-key",
            pki["key"],
            "--port",
            "2575",
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="Cannot use the TLS certificate"):
        call_command("mllp_listen", "--tls-cert", pki["key"], "--tls-key", pki["cert"], "--port", "2575", stdout=io.StringIO())


# --- Senders allowed


def test_while_a_jurisdiction_lists_its_senders_another_sender_is_refused_ar_and_kept_with_the_reason(state, start_listener):
    feed_sender_add(actor=None, jurisdiction=state, sending_facility="05D2191150", name="Example Reference Lab")
    _server, port = start_listener()
    with MLLPClient("127.0.0.1", port) as client:
        allowed = client.send_message(message(1, lab_clia="05D2191150")).decode()
        stranger = client.send_message(message(2, lab_name="Unknown Lab", lab_clia="99D9999999")).decode()
    assert ack_code(allowed)[0] == "AA"
    code, errors = ack_code(stranger)
    assert code == "AR" and "MSA|AR|MLLP00002" in stranger
    assert "MSH-4 (Unknown Lab, 99D9999999)" in errors[0] and "not among the senders" in errors[0]
    refused = InboundMessage.objects.get(state="rejected")
    assert [(p.location, p.code) for p in problems_of(refused)] == [("MSH-4", "unknown_sender")]
    assert refused.sending_facility == "Unknown Lab"
    assert LabResult.objects.count() == 1  # the stranger's result was not read at all


def test_a_sender_matches_by_its_namespace_id_too_ignoring_case(state, start_listener):
    feed_sender_add(actor=None, jurisdiction=state, sending_facility="  example reference LAB ")
    _server, port = start_listener()
    with MLLPClient("127.0.0.1", port) as client:
        assert ack_code(client.send_message(message(1)).decode())[0] == "AA"


def test_a_message_refused_for_its_sender_is_taken_when_sent_again_once_the_sender_is_allowed(state, start_listener):
    feed_sender_add(actor=None, jurisdiction=state, sending_facility="05D2191150")
    _server, port = start_listener()
    stranger = message(5, lab_name="New Lab", lab_clia="33D3333333")
    with MLLPClient("127.0.0.1", port) as client:
        assert ack_code(client.send_message(stranger).decode())[0] == "AR"
        feed_sender_add(actor=None, jurisdiction=state, sending_facility="33D3333333")  # applies from the next frame
        assert ack_code(client.send_message(stranger).decode())[0] == "AA"
    message_row = InboundMessage.objects.get()
    assert message_row.state == "processed" and LabResult.objects.count() == 1


def test_with_no_active_sender_listed_every_sender_is_taken(state, start_listener):
    sender = feed_sender_add(actor=None, jurisdiction=state, sending_facility="05D2191150")
    feed_sender_set_active(actor=None, sender=sender, active=False)
    _server, port = start_listener()
    with MLLPClient("127.0.0.1", port) as client:
        assert ack_code(client.send_message(message(1, lab_clia="44D4444444")).decode())[0] == "AA"


def test_senders_are_managed_with_a_command_and_every_change_is_audited(state):
    out = io.StringIO()
    call_command("feed_senders", "list", stdout=out)
    assert "any sending facility" in out.getvalue()
    call_command("feed_senders", "add", "--jurisdiction", "xs", "--facility", "05D2191150", "--name", "Example Lab", stdout=out)
    call_command("feed_senders", "deactivate", "--jurisdiction", "xs", "--facility", "05d2191150", stdout=out)
    out = io.StringIO()
    call_command("feed_senders", "list", "--jurisdiction", "xs", stdout=out)
    assert out.getvalue().split("\n")[0].split("\t") == ["xs", "05D2191150", "inactive", "Example Lab"]
    call_command("feed_senders", "add", "--jurisdiction", "xs", "--facility", "05D2191150", stdout=io.StringIO())
    assert FeedSender.objects.get().active and FeedSender.objects.count() == 1
    entries = list(AuditEntry.objects.filter(object_type="feed_sender").order_by("pk").values_list("action", "fields"))
    assert [action for action, _fields in entries] == ["create", "update", "update"]
    with pytest.raises(CommandError, match="no sender"):
        call_command("feed_senders", "activate", "--jurisdiction", "xs", "--facility", "nobody", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No jurisdiction"):
        call_command("feed_senders", "add", "--jurisdiction", "zz", "--facility", "x", stdout=io.StringIO())


def test_mllp_listen_serves_mutual_tls_from_the_command_line(pki, tmp_path):
    import os
    import subprocess
    import sys

    from tracecenter.intake.tests.test_mllp import ROOT, _manage

    env = {**os.environ, "TRACECENTER_VAR_DIR": str(tmp_path), "TRACECENTER_ENV": "local", "DATABASE_URL": ""}
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(
        env, "shell", "-c", "from tracecenter.accounts.models import Jurisdiction as J; J.objects.create(name='T', code='ts')"
    )
    _manage(env, "feed_senders", "add", "--jurisdiction", "ts", "--facility", "22D0999999")
    port = free_port()
    command = [sys.executable, str(ROOT / "manage.py"), "mllp_listen", "--port", str(port)]
    command += ["--tls-cert", pki["cert"], "--tls-key", pki["key"], "--tls-client-ca", pki["ca"]]
    listener = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert listener.stdout is not None
        started = listener.stdout.readline()
        assert "listening for MLLP over TLS, senders with a certificate" in started
        assert "from 1 allowed sending facilities" in started
        with tls_client(port, pki, with_certificate=True) as sock:
            assert ack_code(send(sock, message(1)))[0] == "AA"
            assert ack_code(send(sock, message(2, lab_clia="77D7777777", lab_name="Other Lab")))[0] == "AR"
    finally:
        listener.terminate()
        listener.wait(timeout=30)
