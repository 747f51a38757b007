"""smtplib and aiosmtplib against the sandbox, with and without logging in."""

from __future__ import annotations

import asyncio

from notify import notification, send_async, send_over_implicit_tls, send_sync


def test_smtplib_delivers_to_an_inbox(mailbot_sandbox, inbox) -> None:
    message = notification("alerts@app.example", inbox.address, "Disk at 91%", "Clean up.")
    send_sync(mailbot_sandbox.smtp_host, mailbot_sandbox.smtp_port, message)
    assert inbox.wait_for(subject_contains="Disk", timeout=10).text.strip() == "Clean up."


def test_smtplib_over_tls_verified_as_in_production(mailbot_sandbox, inbox) -> None:
    tls = mailbot_sandbox.ssl_context  # trusts the sandbox's CA; checks certificate and name
    host = mailbot_sandbox.smtp_host
    first = notification("alerts@app.example", inbox.address, "Over STARTTLS", "Encrypted.")
    send_sync(host, mailbot_sandbox.smtp_port, first, tls=tls)
    second = notification("alerts@app.example", inbox.address, "Over SMTPS", "Encrypted.")
    send_over_implicit_tls(host, mailbot_sandbox.smtps_port, second, tls)
    inbox.assert_received(subject_contains="Over STARTTLS")
    inbox.assert_received(subject_contains="Over SMTPS")


def test_aiosmtplib_delivers_to_an_inbox(mailbot_sandbox, inbox) -> None:
    message = notification("alerts@app.example", inbox.address, "Job finished", "All green.")
    asyncio.run(send_async(mailbot_sandbox.smtp_host, mailbot_sandbox.smtp_port, message))
    assert inbox.wait_for(subject_contains="Job finished", timeout=10).from_address == (
        "alerts@app.example"
    )


def test_logged_in_as_an_inbox_mail_goes_out_from_it(mailbot_sandbox, mailbot_inbox) -> None:
    alerts = mailbot_inbox(username="alerts", domain="app.example", permissions=["send"])
    oncall = mailbot_inbox(permissions=["receive"])
    message = notification(alerts.address, oncall.address, "Pager", "Wake up.")
    login = (alerts.address, mailbot_sandbox.api_key)
    asyncio.run(send_async(mailbot_sandbox.smtp_host, mailbot_sandbox.smtp_port, message, login))
    oncall.assert_received(subject_contains="Pager")
    assert [m.subject for m in alerts.messages(direction="outbound")] == ["Pager"]


def test_the_sdk_from_async_code(mailbot_sandbox, inbox) -> None:
    from mailbot import MailBot

    async def newest_subjects() -> list[str]:
        mb = MailBot(api_key=mailbot_sandbox.api_key, base_url=mailbot_sandbox.api_url)
        try:
            listed = await mb.http.arequest("GET", f"/inboxes/{inbox.id}/messages")
            return [message["subject"] for message in listed["data"]]
        finally:
            await mb.http.aclose()
            mb.close()

    inbox.send(inbox.address, "Note to self", "x")
    inbox.wait_for(subject_contains="Note to self", timeout=10)
    assert "Note to self" in asyncio.run(newest_subjects())
