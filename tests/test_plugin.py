"""The pytest plugin as users meet it, through inner pytest runs (pytester)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

# pytester's in-process runs drop the modules first imported during them, and cryptography's
# compiled core cannot be imported a second time: a later inner run that makes a DKIM key
# would fail. Imported here, before any inner run, they stay loaded.
import cryptography.hazmat.primitives.asymmetric.rsa
import cryptography.hazmat.primitives.serialization  # noqa: F401
import pytest

from mailbot_sandbox import Sandbox
from tests.helpers import Api, plugin_options, serving

pytest_plugins = ["pytester"]

SMTP_HELPER = """
import smtplib
from email.message import EmailMessage

def deliver(sandbox, to, subject, body, html=None):
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port) as client:
        client.send_message(message)
"""


def test_a_users_first_test_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mailhelpers=SMTP_HELPER)
    pytester.makepyfile(
        test_inner_signup="""
        from mailhelpers import deliver

        def test_verification_mail(inbox, mailbot_sandbox):
            deliver(mailbot_sandbox, inbox.address, "Verify your email",
                    "Your code is 482913 (valid until 2026-12-01).",
                    html='<p><a href="https://app.example/confirm?t=abc">Confirm</a></p>')
            msg = inbox.wait_for(subject_contains="verify", timeout=5)
            assert msg.from_address == "app@example.com"
            assert msg.link(text="Confirm") == "https://app.example/confirm?t=abc"
            assert msg.code() == "482913"
            assert msg.headers["Subject"] == "Verify your email"
    """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_a_failed_wait_says_what_arrived_and_saves_the_mail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mailhelpers=SMTP_HELPER)
    pytester.makepyfile(
        test_inner_fail="""
        from mailhelpers import deliver

        def test_waits_for_the_wrong_subject(inbox, mailbot_sandbox):
            deliver(mailbot_sandbox, inbox.address, "Welcome aboard", "hi")
            inbox.wait_for(subject_contains="Verify", timeout=0.3)
    """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*MailTimeout: no message with subject_contains='Verify'*within 0.3 s.",
            "*What is in that inbox (newest first):",
            "*inbound*from app@example.com*'Welcome aboard'",
            "*Its messages are saved as .eml files (see the 'mailbot' section below).",
            "*mailbot*",
            "this test's mail, as .eml files: *test_inner_fail.py_test_waits_for_the_wrong_subject",
            "*@mailbot.id: 1 message(s) in *",
        ]
    )
    # The in-process sandbox is gone after the run: no report points at it.
    assert "/v1/inboxes/" not in result.stdout.str()
    folder = pytester.path / ".pytest_cache" / "mailbot"
    [saved] = list(folder.glob("*/*@mailbot.id/001-inbound-msg_*.eml"))
    assert b"Subject: Welcome aboard" in saved.read_bytes()


def test_failure_artifacts_go_where_asked_with_the_outbox(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner_outbox="""
        def test_sends_then_fails(inbox, mailbot_outbox):
            inbox.send("customer@example.com", "Receipt", "total 12.00")
            assert False, "the app did something wrong"

        def test_passes(inbox, mailbot_outbox):
            inbox.send("customer@example.com", "Receipt", "total 12.00")
    """
    )
    result = pytester.runpytest("-p", "no:randomly", "--mailbot-artifacts", "mail-artifacts")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*outbox: 1 captured message(s) in *mail-artifacts*"])
    tests = list((pytester.path / "mail-artifacts").iterdir())
    assert [t.name for t in tests] == ["test_inner_outbox.py_test_sends_then_fails"]
    [captured] = list((tests[0] / "outbox").glob("001-out_*.eml"))
    assert b"total 12.00" in captured.read_bytes()
    [sent] = list(tests[0].glob("*@mailbot.id/001-outbound-msg_*.eml"))
    assert sent.read_bytes() == captured.read_bytes()


def test_passing_tests_erase_their_inboxes_failing_ones_keep_them(
    pytester: pytest.Pytester, sandbox: Sandbox, api: Api
) -> None:
    pytester.makepyfile(
        test_inner_cleanup="""
        import json, pathlib

        def _note(inbox, name):
            pathlib.Path(name).write_text(inbox.id)

        def test_passes(inbox):
            _note(inbox, "passed.id")

        def test_fails(inbox):
            _note(inbox, "failed.id")
            assert False
    """
    )
    result = pytester.runpytest(
        "-p", "no:randomly", f"--mailbot-url={sandbox.base_url}", f"--mailbot-api-key={api.key}"
    )
    result.assert_outcomes(passed=1, failed=1)
    passed_id = (pytester.path / "passed.id").read_text()
    failed_id = (pytester.path / "failed.id").read_text()
    # This sandbox outlives the run, so the report links the kept inbox.
    result.stdout.fnmatch_lines(
        [f"*@mailbot.id  (kept; its mail: {sandbox.base_url}/v1/inboxes/{failed_id}/messages)"]
    )
    assert api.get(f"/v1/inboxes/{passed_id}").status_code == 404
    assert api.get(f"/v1/inboxes/{failed_id}").json()["data"]["status"] == "active"


def test_env_fixture_sets_and_restores(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner_env="""
        import os

        def test_set(mailbot_env, mailbot_sandbox):
            assert os.environ["MAILBOT_BASE_URL"] == mailbot_sandbox.api_url
            assert os.environ["MAILBOT_API_KEY"].startswith("mb_pytest_")
            assert os.environ["MAILBOT_SMTP_PORT"] == str(mailbot_sandbox.smtp_port)

        def test_restored_afterwards():
            assert "MAILBOT_BASE_URL" not in os.environ
    """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_an_app_using_the_real_sdk(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner_sdk_app='''
        import os
        from mailbot import MailBot

        def signup(email):
            """The app under test: mails through the mailbot SDK, configured from the env."""
            client = MailBot(api_key=os.environ["MAILBOT_API_KEY"],
                             base_url=os.environ["MAILBOT_BASE_URL"])
            inboxes = client.inboxes.list()["data"]
            onboarding = next(i for i in inboxes if i["username"] == "onboarding")
            client.messages.send(onboarding["id"], to=[email], subject="Verify your email",
                                 body_text="Code: 777123")
            client.close()

        def test_signup(mailbot_env, mailbot_inbox):
            mailbot_inbox(username="onboarding", domain="yourdomain.com",
                          permissions=["send"])
            customer = mailbot_inbox(permissions=["receive"])
            signup(customer.address)
            msg = customer.wait_for(subject_contains="Verify", timeout=5)
            assert msg.from_address == "onboarding@yourdomain.com"
            assert msg.code() == "777123"
    '''
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_parallel_workers_are_isolated_accounts(pytester: pytest.Pytester) -> None:
    body = "\n".join(
        f"""
def test_{n}(mailbot_inbox, mailbot_sandbox):
    pathlib.Path("key-{n}").write_text(mailbot_sandbox.api_key)
    fixed = mailbot_inbox(username="onboarding", domain="yourdomain.com")
    other = mailbot_inbox()
    fixed.send(other.address, subject="n{n}", body_text="x")
    assert other.wait_for(subject_contains="n{n}", timeout=5).subject == "n{n}"
    assert len(other.messages()) == 1
"""
        for n in range(8)
    )
    pytester.makepyfile(test_inner_parallel="import pathlib\n" + body)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=8)
    keys = {path.read_text() for path in pytester.path.glob("key-*")}
    assert len(keys) == 2, "each worker is an account of its own"


def test_external_sandbox_and_bad_urls(pytester: pytest.Pytester, sandbox: Sandbox) -> None:
    pytester.makepyfile(
        test_inner_ext="""
        def test_uses_it(mailbot_sandbox, inbox):
            assert mailbot_sandbox.external
            assert inbox.address.endswith("@mailbot.id")
    """
    )
    ok = pytester.runpytest(
        "-p",
        "no:randomly",
        f"--mailbot-url={sandbox.api_url}",
        f"--mailbot-smtp={sandbox.smtp_host}:{sandbox.smtp_port}",
    )
    ok.assert_outcomes(passed=1)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    down = pytester.runpytest("-p", "no:randomly", f"--mailbot-url=http://127.0.0.1:{port}")
    assert down.ret != 0
    down.stderr.fnmatch_lines(["*no mailbot sandbox answers at http://127.0.0.1:*"])
    assert "Traceback" not in down.stderr.str()
    bad = pytester.runpytest("-p", "no:randomly", "--mailbot-url=ftp://x")
    bad.stderr.fnmatch_lines(["*--mailbot-url must look like http://host:port*"])


def test_a_fixed_address_works_in_every_test_even_after_a_failure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_inner_fixed="""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_uses_onboarding(mailbot_inbox, n):
            inbox = mailbot_inbox(username="onboarding", domain="yourdomain.com")
            assert inbox.address == "onboarding@yourdomain.com"
            assert n != 1, "this one fails and keeps its inbox"
    """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)


def test_nothing_is_left_running_after_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner_ports="""
        import json, pathlib

        def test_note_ports(mailbot_sandbox, inbox):
            port = int(mailbot_sandbox.base_url.rsplit(":", 1)[1])
            pathlib.Path("ports.json").write_text(json.dumps([port, mailbot_sandbox.smtp_port]))
    """
    )
    before = {t.name for t in threading.enumerate()}
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    leaked = {t.name for t in threading.enumerate()} - before
    assert not [name for name in leaked if name.startswith("mailbot")], leaked
    for port in json.loads(Path(pytester.path / "ports.json").read_text()):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def test_options_are_in_their_own_help_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "mailbot sandbox:",
            "*--mailbot-url=URL*",
            "*--mailbot-smtp=HOST:PORT*",
            "*--mailbot-smtps-port=PORT*",
            "*--mailbot-api-key=KEY*",
        ]
    )
    result.stdout.fnmatch_lines(["*mailbot_wait_timeout*", "*mailbot_shared_domain*"])


def test_ini_settings_apply(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmailbot_wait_timeout = 0.2\nmailbot_shared_domain = dev.test\n")
    pytester.makepyfile(
        test_inner_ini="""
        import time, pytest
        from pytest_mailbot.handles import MailTimeout

        def test_defaults(inbox):
            assert inbox.address.endswith("@dev.test")
            started = time.monotonic()
            with pytest.raises(MailTimeout):
                inbox.wait_for()
            assert time.monotonic() - started < 3
    """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_a_users_conftest_overrides_the_sandbox_settings(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mailbot_sandbox_settings():
            return {
                "shared_domain": "qa.example",
                "max_message_size": 2048,
                "api_keys": ["mb_ci_only"],
                "domain_policy": "strict",
            }
    """
    )
    pytester.makepyfile(
        test_inner_settings="""
        import pytest
        from pytest_mailbot.client import MailbotApiError

        def test_settings_reach_the_sandbox(mailbot, mailbot_sandbox, mailbot_inbox):
            assert mailbot_sandbox.api_key == "mb_ci_only"
            inbox = mailbot_inbox()
            assert inbox.address.endswith("@qa.example")
            with pytest.raises(MailbotApiError) as unverified:
                mailbot_inbox(domain="shop.example")
            assert unverified.value.code == "domain_not_verified"
            with pytest.raises(MailbotApiError) as caught:
                mailbot.send(inbox.id, to=[inbox.address], subject="big", body_text="x" * 4096)
            assert caught.value.status == 413
            assert caught.value.code == "payload_too_large"
            assert "2048" in caught.value.message
            mailbot.send(inbox.id, to=[inbox.address], subject="small", body_text="x" * 100)
    """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_a_bad_setting_in_the_override_names_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mailbot_sandbox_settings():
            return {"domain_policy": "lenient"}
    """
    )
    pytester.makepyfile(test_inner_bad="def test_any(inbox):\n    pass\n")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ConfigError: domain policy must be one of auto, strict*"])


def test_against_a_separately_started_serve_process(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    with serving(tmp_path / "mail.db") as served:
        pytester.makepyfile(mailhelpers=SMTP_HELPER)
        pytester.makepyfile(
            test_inner_serve="""
            from mailhelpers import deliver

            def test_mail_through_the_server(mailbot_sandbox, inbox):
                assert mailbot_sandbox.external
                deliver(mailbot_sandbox, inbox.address, "Hello from outside", "code 246810")
                assert inbox.wait_for(subject_contains="outside", timeout=10).code() == "246810"
            """
        )
        result = pytester.runpytest_subprocess(
            "-p", "no:randomly", "-n", "2", *plugin_options(served)
        )
        result.assert_outcomes(passed=1)


def test_the_plugin_uses_only_the_public_api_of_mailbot_sandbox() -> None:
    import ast

    import mailbot_sandbox
    import pytest_mailbot

    reached: list[str] = []
    for path in Path(pytest_mailbot.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "mailbot_sandbox"
            ):
                reached += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                reached += [a.name for a in node.names if a.name.startswith("mailbot_sandbox.")]
    public = {f"mailbot_sandbox.{name}" for name in mailbot_sandbox.__all__}
    assert reached, "the plugin starts sandboxes through mailbot_sandbox"
    assert set(reached) <= public, sorted(set(reached) - public)


def test_plain_smtp_to_an_outside_address_is_in_mailbot_outbox(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner_catch_all="""
        import smtplib
        from email.message import EmailMessage

        def test_app_mails_a_customer(mailbot_sandbox, mailbot_outbox):
            message = EmailMessage()
            message["From"] = "shop@shop.example"
            message["To"] = "customer@example.com"
            message["Subject"] = "Your receipt"
            message.set_content("Thanks!")
            message.add_attachment(b"total: 12.00", "text", "plain", filename="receipt.txt")
            with smtplib.SMTP(mailbot_sandbox.smtp_host, mailbot_sandbox.smtp_port) as client:
                client.send_message(message)
            sent = mailbot_outbox.assert_sent(to="customer@example.com", subject_contains="receipt")
            [attachment] = sent.attachments
            assert (attachment.filename, attachment.content) == ("receipt.txt", b"total: 12.00")
    """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)
