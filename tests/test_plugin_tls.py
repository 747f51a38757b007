"""The plugin's TLS handle as users meet it: ``mailbot_sandbox.ca_file``, ``smtps_port`` and a
ready ``ssl_context``, in-process and against a separately started sandbox (pytester)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

# pytester's in-process runs drop the modules first imported during them, and cryptography's
# compiled core cannot be imported a second time (see tests/test_plugin.py): the in-process
# sandbox makes its CA with it, so it is imported here, before any inner run.
import cryptography.hazmat.primitives.asymmetric.rsa
import cryptography.hazmat.primitives.serialization  # noqa: F401
import pytest

from tests.helpers import plugin_options, self_signed_certificate, serving

pytest_plugins = ["pytester"]

# Both ways in, each verifying the certificate chain and the host name it connects to.
SEND_OVER_TLS = """
import smtplib
import socket
import ssl

def _mail(to, subject):
    return f"From: app@example.com\\r\\nTo: {to}\\r\\nSubject: {subject}\\r\\n\\r\\nhi\\r\\n"

def test_send_over_starttls_and_implicit_tls(mailbot_sandbox, inbox):
    with open(mailbot_sandbox.ca_file) as ca:
        assert "BEGIN CERTIFICATE" in ca.read()
    context = mailbot_sandbox.ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with smtplib.SMTP(mailbot_sandbox.smtp_host, mailbot_sandbox.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=context)
        assert smtp.sock.getpeercert()["subjectAltName"]  # only set once verified
        smtp.sendmail("app@example.com", [inbox.address], _mail(inbox.address, "starttls"))
    with smtplib.SMTP_SSL(
        mailbot_sandbox.smtp_host, mailbot_sandbox.smtps_port, context=context, timeout=10
    ) as smtp:
        smtp.sendmail("app@example.com", [inbox.address], _mail(inbox.address, "smtps"))
    inbox.assert_received(subject_contains="starttls")
    inbox.assert_received(subject_contains="smtps")

def test_a_name_the_certificate_does_not_carry_is_refused(mailbot_sandbox):
    address = (mailbot_sandbox.smtp_host, mailbot_sandbox.smtps_port)
    with socket.create_connection(address, timeout=10) as raw:
        try:
            mailbot_sandbox.ssl_context.wrap_socket(raw, server_hostname="elsewhere.example")
        except ssl.SSLCertVerificationError as refused:
            assert "elsewhere.example" in str(refused)  # a host-name mismatch
            return
    raise AssertionError("a certificate for another name was accepted")

def test_the_ca_is_what_makes_it_verify(mailbot_sandbox):
    with smtplib.SMTP(mailbot_sandbox.smtp_host, mailbot_sandbox.smtp_port, timeout=10) as smtp:
        try:
            smtp.starttls(context=ssl.create_default_context())  # the system's CAs only
        except ssl.SSLCertVerificationError:
            return
    raise AssertionError("the sandbox's certificate was trusted without its CA")
"""


def test_in_process_sandbox_gives_its_ca_and_a_ready_ssl_context(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_inner_tls=SEND_OVER_TLS)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., dict[str, str]]]:
    """Start ``serve`` in a process of its own (with more arguments, if given); returns the
    addresses it prints. Stopped, and checked to stop cleanly, after the test."""
    with contextlib.ExitStack() as running:
        yield lambda *arguments: running.enter_context(serving(tmp_path / "mail.db", *arguments))


def test_external_sandbox_ca_is_fetched_and_trusted(
    pytester: pytest.Pytester, serve: Callable[..., dict[str, str]]
) -> None:
    pytester.makepyfile(test_inner_tls=SEND_OVER_TLS)
    pytester.makepyfile(
        test_inner_external="""
        def test_it_is_the_external_one(mailbot_sandbox):
            assert mailbot_sandbox.external
        """
    )
    result = pytester.runpytest("-p", "no:randomly", *plugin_options(serve()))
    result.assert_outcomes(passed=4)


def test_a_sandbox_given_its_own_certificate_has_no_ca_to_trust(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    cert_file, key_file, _ = self_signed_certificate(tmp_path)
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture(scope="session")
        def mailbot_sandbox_settings():
            return {{"tls_cert": {str(cert_file)!r}, "tls_key": {str(key_file)!r}}}
        """
    )
    pytester.makepyfile(
        test_inner_given="""
        def test_no_ca(mailbot_sandbox):
            assert mailbot_sandbox.ca_file is None

        def test_asks_for_the_context(mailbot_sandbox):
            mailbot_sandbox.ssl_context
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*RuntimeError: this sandbox presents the certificate it was given (tls_cert, *"]
    )
    assert "has no CA to trust" in result.stdout.str()


def test_an_external_sandbox_given_its_own_certificate_has_no_ca_to_trust(
    pytester: pytest.Pytester, serve: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    cert_file, key_file, _ = self_signed_certificate(tmp_path)
    served = serve("--tls-cert", str(cert_file), "--tls-key", str(key_file))
    pytester.makepyfile(
        test_inner_given=f"""
        import smtplib
        import ssl

        def test_no_ca_but_its_own_certificate_works(mailbot_sandbox):
            assert mailbot_sandbox.external and mailbot_sandbox.ca_file is None
            context = ssl.create_default_context(cafile={str(cert_file)!r})
            with smtplib.SMTP_SSL(
                "localhost", mailbot_sandbox.smtps_port, context=context, timeout=10
            ) as smtp:
                assert smtp.noop()[0] == 250

        def test_asks_for_the_context(mailbot_sandbox):
            mailbot_sandbox.ssl_context
        """
    )
    result = pytester.runpytest("-p", "no:randomly", *plugin_options(served))
    result.assert_outcomes(passed=1, failed=1)
    assert "has no CA to trust" in result.stdout.str()


def test_a_bad_smtps_port_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner_any="def test_any():\n    pass\n")
    result = pytester.runpytest(
        "-p", "no:randomly", "--mailbot-url=http://127.0.0.1:1", "--mailbot-smtps-port=70000"
    )
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--mailbot-smtps-port must be 1 to 65535, got 70000*"])
    assert "Traceback" not in result.stderr.str()
