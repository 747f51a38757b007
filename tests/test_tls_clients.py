"""Real mail clients with TLS on, configured as apps configure them in production: Django's SMTP
backend (EMAIL_USE_TLS, EMAIL_USE_SSL), aiosmtplib (start_tls, use_tls), curl (--ssl-reqd) and
nodemailer (requireTLS, secure). Each verifies the server against the sandbox CA."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import subprocess
import sys
import textwrap
import warnings
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailbot_sandbox import Sandbox
from tests.helpers import Api, environ_without_settings, smtp_message, subjects

ROOT = Path(__file__).resolve().parent.parent
NODE_FOLDER = ROOT / "tests" / "node"


@pytest.fixture
def inbox(api: Api) -> dict[str, Any]:
    response = api.post("/v1/inboxes", json={"username": "client"})
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


DJANGO_APP = """
import sys
import django
from django.conf import settings

host, port, mode, to = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
settings.configure(
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    EMAIL_HOST=host,
    EMAIL_PORT=port,
    EMAIL_USE_TLS=mode == "tls",
    EMAIL_USE_SSL=mode == "ssl",
    EMAIL_TIMEOUT=20,
    DEFAULT_FROM_EMAIL="app@example.com",
)
django.setup()
from django.core.mail import send_mail

sent = send_mail(f"django {mode}", "Sent by Django.", None, [to], fail_silently=False)
print(sent)
"""


@pytest.mark.parametrize("mode", ["tls", "ssl"])
def test_django_smtp_backend_with_tls_and_ssl(
    sandbox: Sandbox, api: Api, inbox: dict[str, Any], mode: str
) -> None:
    pytest.importorskip("django", reason="Django is a dev dependency: pip install -e '.[dev]'")
    port = sandbox.smtp_port if mode == "tls" else sandbox.smtps_port
    # Django verifies against the default CA store; SSL_CERT_FILE is how an app trusts ours.
    env = {**environ_without_settings(), "SSL_CERT_FILE": str(sandbox.tls_ca_file)}
    done = subprocess.run(
        [sys.executable, "-c", DJANGO_APP, "localhost", str(port), mode, inbox["address"]],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert subjects(api, inbox) == [f"django {mode}"]


@pytest.mark.parametrize("how", ["start_tls", "use_tls"])
def test_aiosmtplib_with_starttls_and_implicit_tls(
    sandbox: Sandbox, api: Api, inbox: dict[str, Any], how: str
) -> None:
    aiosmtplib = pytest.importorskip("aiosmtplib", reason="a dev dependency")
    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = inbox["address"]
    message["Subject"] = f"aiosmtplib {how}"
    message.set_content("Sent by aiosmtplib.")
    port = sandbox.smtp_port if how == "start_tls" else sandbox.smtps_port

    async def send() -> None:
        await aiosmtplib.send(
            message,
            hostname="localhost",
            port=port,
            cert_bundle=sandbox.tls_ca_file,
            timeout=20,
            **{how: True},
        )

    with warnings.catch_warnings():
        # aiosmtplib returns once the server has answered QUIT, before asyncio has finished
        # closing the TLS connection under it; asyncio.run then drops that socket, and its
        # ResourceWarning would surface in whichever test happens to run next. Collected here.
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(send())
        gc.collect()
    assert subjects(api, inbox) == [f"aiosmtplib {how}"]


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_curl_with_ssl_required(
    sandbox: Sandbox, api: Api, inbox: dict[str, Any], tmp_path: Path, scheme: str
) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    message = tmp_path / "message.eml"
    message.write_bytes(smtp_message("app@example.com", [inbox["address"]], f"curl {scheme}"))
    port = sandbox.smtp_port if scheme == "smtp" else sandbox.smtps_port
    done = subprocess.run(
        [
            curl,
            "--silent",
            "--show-error",
            "--ssl-reqd",
            "--cacert",
            str(sandbox.tls_ca_file),
            "--mail-from",
            "app@example.com",
            "--mail-rcpt",
            inbox["address"],
            "--upload-file",
            str(message),
            f"{scheme}://localhost:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert subjects(api, inbox) == [f"curl {scheme}"]


@pytest.fixture(scope="module")
def nodemailer() -> list[str]:
    """``node send.mjs``, with nodemailer installed by scripts/install-node-clients."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed: nodemailer cannot be tried")
    if not (NODE_FOLDER / "node_modules" / "nodemailer").is_dir():
        installed = subprocess.run(
            [str(ROOT / "scripts" / "install-node-clients")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert installed.returncode == 0, f"installing nodemailer failed:\n{installed.stderr}"
    return [node, str(NODE_FOLDER / "send.mjs")]


@pytest.mark.parametrize("secure", [False, True], ids=["requireTLS", "secure"])
def test_nodemailer_with_require_tls_and_secure(
    sandbox: Sandbox, api: Api, inbox: dict[str, Any], nodemailer: list[str], secure: bool
) -> None:
    subject = f"nodemailer {'secure' if secure else 'requireTLS'}"
    options = {
        "host": "localhost",
        "port": sandbox.smtps_port if secure else sandbox.smtp_port,
        "secure": secure,
        "requireTLS": not secure,
        "ca": sandbox.tls_ca_file,
        "from": "app@example.com",
        "to": inbox["address"],
        "subject": subject,
    }
    done = subprocess.run(
        [*nodemailer, json.dumps(options)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("250 ")
    assert subjects(api, inbox) == [subject]


def test_nodemailer_is_refused_plain_text_when_tls_is_required(
    tmp_path: Path, nodemailer: list[str]
) -> None:
    """The other way round: an app with TLS off against a sandbox that requires it is told."""
    with Sandbox(smtp_require_tls=True, tls_dir=str(tmp_path)) as strict:
        api = Api(strict.base_url, "mb_node_plain")
        inbox = api.post("/v1/inboxes", json={"username": "plain"}).json()["data"]
        script = textwrap.dedent(
            """
            import nodemailer from "nodemailer";
            const [port, to] = process.argv.slice(1);
            const transport = nodemailer.createTransport({
              host: "127.0.0.1", port: Number(port), ignoreTLS: true,
            });
            try {
              await transport.sendMail({from: "a@example.com", to, subject: "x", text: "x"});
            } catch (error) { console.error(error.response); process.exit(3); }
            """
        )
        done = subprocess.run(
            [
                nodemailer[0],
                "--input-type=module",
                "-e",
                script,
                str(strict.smtp_port),
                inbox["address"],
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=NODE_FOLDER,
        )
        api.close()
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("530 5.7.0"), done.stderr
