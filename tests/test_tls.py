"""TLS for SMTP as clients use it: STARTTLS, the implicit-TLS port, the sandbox CA, TLS
required, a user's certificate, and clients that get TLS wrong."""

from __future__ import annotations

import logging
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509

from mailbot_sandbox import ConfigError, Sandbox
from mailbot_sandbox.config import load_config
from tests.helpers import (
    SERVE,
    Api,
    environ_without_settings,
    run_cli,
    self_signed_certificate,
    smtp_message,
    subjects,
)


def _trusting(sandbox: Sandbox) -> ssl.SSLContext:
    assert sandbox.tls_ca_file is not None
    return ssl.create_default_context(cafile=sandbox.tls_ca_file)


@pytest.fixture
def inbox(api: Api) -> dict[str, Any]:
    response = api.post("/v1/inboxes", json={"username": "tls"})
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_starttls_verified_against_the_sandbox_ca(
    sandbox: Sandbox, api: Api, inbox: dict[str, Any]
) -> None:
    with smtplib.SMTP("localhost", sandbox.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        smtp.starttls(context=_trusting(sandbox))  # verifies the chain and "localhost"
        smtp.ehlo()
        assert not smtp.has_extn("starttls")  # offered once
        smtp.sendmail(
            "app@example.com",
            [inbox["address"]],
            smtp_message("app@example.com", [inbox["address"]], "over STARTTLS"),
        )
    assert subjects(api, inbox) == ["over STARTTLS"]


def test_implicit_tls_port_verified_by_ip_address(
    sandbox: Sandbox, api: Api, inbox: dict[str, Any]
) -> None:
    with smtplib.SMTP_SSL("127.0.0.1", sandbox.smtps_port, context=_trusting(sandbox)) as smtp:
        assert smtp.sock is not None
        assert isinstance(smtp.sock, ssl.SSLSocket) and smtp.sock.version() in (
            "TLSv1.2",
            "TLSv1.3",
        )
        smtp.ehlo()
        assert not smtp.has_extn("starttls")  # already encrypted
        assert smtp.has_extn("auth")
        smtp.sendmail(
            "app@example.com",
            [inbox["address"]],
            smtp_message("app@example.com", [inbox["address"]], "over SMTPS"),
        )
    assert subjects(api, inbox) == ["over SMTPS"]


def test_ca_is_served_without_a_key_and_matches_the_file(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.base_url}/sandbox/v1/tls/ca.pem", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/x-pem-file")
    assert sandbox.tls_ca_file is not None
    assert response.content == Path(sandbox.tls_ca_file).read_bytes()
    ca = x509.load_pem_x509_certificate(response.content)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_starttls_twice_is_refused_and_the_session_goes_on(
    sandbox: Sandbox, api: Api, inbox: dict[str, Any]
) -> None:
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=_trusting(sandbox))
        code, text = smtp.docmd("STARTTLS")
        assert (code, text) == (503, b"5.5.1 TLS is already active on this connection")
        smtp.sendmail("a@example.com", [inbox["address"]], b"Subject: after\r\n\r\nbody\r\n")
    assert subjects(api, inbox) == ["after"]


def test_plain_smtp_on_the_tls_port_is_told_to_use_tls(sandbox: Sandbox) -> None:
    # smtplib waits for a banner: after a moment of silence the port answers in plain text.
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP("127.0.0.1", sandbox.smtps_port, timeout=15)
    assert refused.value.smtp_code == 554
    assert b"TLS from the first byte" in refused.value.smtp_error
    # A client that talks first gets the same words at once.
    with socket.create_connection(("127.0.0.1", sandbox.smtps_port), timeout=10) as raw:
        raw.sendall(b"EHLO plain\r\n")
        assert raw.recv(1000).startswith(b"554 5.7.0 This port speaks TLS")


def test_tls_handshake_on_the_plain_port_is_answered_in_words(sandbox: Sandbox) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.smtp_port), timeout=10) as raw:
        raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40))
        answer = b""
        while chunk := raw.recv(1000):
            answer += chunk
    assert b"554 5.7.0 This is plain SMTP: send STARTTLS" in answer
    assert f"port {sandbox.smtps_port}".encode() in answer


@pytest.mark.parametrize("port_name", ["smtps_port", "smtp_port"])
def test_garbage_handshakes_are_logged_as_words_and_others_are_served(
    sandbox: Sandbox,
    api: Api,
    inbox: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    port_name: str,
) -> None:
    garbage = b"\x16\x03\x01\xff\xff\x00\xfe\x80\x81binary\x00\x1b[31m" * 20
    caplog.set_level(logging.DEBUG)  # until the test ends: the line comes after the close
    if port_name == "smtp_port":  # garbage where the STARTTLS handshake should be
        client = smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=10)
        client.ehlo()
        assert client.docmd("STARTTLS")[0] == 220
        assert client.sock is not None
        raw = client.sock
    else:
        raw = socket.create_connection(("127.0.0.1", sandbox.smtps_port), timeout=10)
    with raw:
        raw.sendall(garbage)
        with pytest.raises(OSError):  # closed (or reset) without a crash of the server
            while raw.recv(1000):
                pass
            raise ConnectionResetError
    with smtplib.SMTP_SSL("127.0.0.1", sandbox.smtps_port, context=_trusting(sandbox)) as smtp:
        smtp.sendmail("a@example.com", [inbox["address"]], b"Subject: still here\r\n\r\nx\r\n")
    assert subjects(api, inbox) == ["still here"]
    # The server closes the connection, then logs: wait for the line (a signal of its own).
    deadline = time.monotonic() + 10
    while not any("handshake" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "no log line about the failed handshake"
        time.sleep(0.05)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed" in logged
    assert "\x1b" not in logged and "\x00" not in logged and "\x16" not in logged


@pytest.fixture
def tls_required(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(smtp_require_tls=True, tls_dir=str(tmp_path / "tls")) as running:
        yield running


def test_required_tls_refuses_mail_and_auth_before_starttls(tls_required: Sandbox) -> None:
    api = Api(tls_required.base_url, "mb_required_tls")
    inbox = api.post("/v1/inboxes", json={"username": "must"}).json()["data"]
    with smtplib.SMTP("127.0.0.1", tls_required.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")  # offered only once encrypted
        assert smtp.docmd("MAIL FROM:<a@example.com>")[0] == 530
        code, text = smtp.docmd("AUTH PLAIN AGFAAGI=")
        assert (code, text[:5]) == (530, b"5.7.0")
        assert b"STARTTLS" in text
        smtp.starttls(context=_trusting(tls_required))
        smtp.ehlo()
        assert smtp.has_extn("auth")
        smtp.sendmail("a@example.com", [inbox["address"]], b"Subject: encrypted\r\n\r\nx\r\n")
    with smtplib.SMTP_SSL(
        "127.0.0.1", tls_required.smtps_port, context=_trusting(tls_required)
    ) as smtp:
        smtp.sendmail("a@example.com", [inbox["address"]], b"Subject: implicit\r\n\r\nx\r\n")
    assert sorted(subjects(api, inbox)) == ["encrypted", "implicit"]
    api.close()


def test_certificate_is_reused_and_renewed_for_new_names(tmp_path: Path) -> None:
    db = str(tmp_path / "mail.db")
    with Sandbox(db=db) as first:
        assert first.tls_ca_file == str(tmp_path / "tls" / "ca.pem")
        ca = Path(first.tls_ca_file).read_bytes()
        server = (tmp_path / "tls" / "server.pem").read_bytes()
    with Sandbox(db=db) as again:
        assert Path(str(again.tls_ca_file)).read_bytes() == ca
        assert (tmp_path / "tls" / "server.pem").read_bytes() == server
    with Sandbox(db=db, tls_hostnames=("mail.app.test",)) as renamed:
        assert Path(str(renamed.tls_ca_file)).read_bytes() == ca  # still trusted
        renewed = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.pem").read_bytes())
        names = renewed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "mail.app.test" in names.get_values_for_type(x509.DNSName)
        assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_a_users_certificate_is_presented(tmp_path: Path) -> None:
    cert_file, key_file, _ = self_signed_certificate(tmp_path)
    with Sandbox(tls_cert=str(cert_file), tls_key=str(key_file)) as running:
        assert running.tls_ca_file is None
        context = ssl.create_default_context(cafile=str(cert_file))
        with smtplib.SMTP("localhost", running.smtp_port, timeout=10) as smtp:
            smtp.starttls(context=context)
            assert smtp.noop()[0] == 250
        response = requests.get(f"{running.base_url}/sandbox/v1/tls/ca.pem", timeout=10)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "no_sandbox_ca"


def test_bad_user_certificates_stop_the_start_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    expired, expired_key, _ = self_signed_certificate(tmp_path / "old", days=-2)
    good, good_key, other_key = self_signed_certificate(tmp_path)
    cases = [
        (["--tls-cert", str(expired), "--tls-key", str(expired_key)], "expired on"),
        (["--tls-cert", str(good), "--tls-key", str(other_key)], "does not belong to"),
        (["--tls-cert", str(good)], "tls_key is not"),
        (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(good_key)], "nope.pem"),
        (["--tls-cert", str(good_key), "--tls-key", str(good_key)], "not a PEM certificate"),
    ]
    for args, says in cases:
        code, _, stderr = run_cli(
            "serve",
            "--port",
            "0",
            "--smtp-port",
            "0",
            "--smtps-port",
            "0",
            "--db",
            ":memory:",
            *args,
        )
        assert code == 2, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in stderr, stderr
        assert says in lines[0], lines[0]


def test_bad_tls_settings_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="MAILBOT_SMTP_REQUIRE_TLS"):
        load_config(environ={"MAILBOT_SMTP_REQUIRE_TLS": "maybe"})
    with pytest.raises(ConfigError, match="not_a host"):
        Sandbox(tls_hostnames=("not_a host",))


def test_serve_with_workers_speaks_tls_on_both_ports(tmp_path: Path) -> None:
    """``serve`` as users run it: the banner names SMTPS and the CA; the supervisor hands TLS
    connections to its workers, and every worker presents the one certificate."""
    process = subprocess.Popen(
        [
            *SERVE,
            "--workers",
            "2",
            "--db",
            str(tmp_path / "mail.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ_without_settings(),
    )
    try:
        assert process.stdout is not None
        banner = ""
        for line in process.stdout:
            banner += line
            if line.startswith("Press Ctrl+C"):
                break
        api_url = re.search(r"API\s+(http://\S+)/v1", banner)
        smtp = re.search(r"SMTP\s+127\.0\.0\.1:(\d+)\s+\(STARTTLS\)", banner)
        smtps = re.search(r"SMTPS\s+127\.0\.0\.1:(\d+)", banner)
        ca = re.search(r"CA\s+(\S+)", banner)
        assert api_url and smtp and smtps and ca, banner
        assert ca.group(1) == str(tmp_path / "tls" / "ca.pem")
        served = requests.get(f"{api_url.group(1)}/sandbox/v1/tls/ca.pem", timeout=10)
        assert served.content == Path(ca.group(1)).read_bytes()
        api = Api(api_url.group(1), "mb_serve_tls")
        inbox = api.post("/v1/inboxes", json={"username": "served"}).json()["data"]
        context = ssl.create_default_context(cafile=ca.group(1))
        for n in range(4):  # round robin: both workers serve each port
            with smtplib.SMTP_SSL("localhost", int(smtps.group(1)), context=context) as secure:
                secure.sendmail("a@example.com", [inbox["address"]], f"Subject: s{n}\r\n\r\nx")
            with smtplib.SMTP("localhost", int(smtp.group(1)), timeout=10) as plain:
                plain.starttls(context=context)
                plain.sendmail("a@example.com", [inbox["address"]], f"Subject: t{n}\r\n\r\nx")
        assert len(subjects(api, inbox)) == 8
        api.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
