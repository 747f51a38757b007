"""Inbox rules as reasons, and what the API and the SMTP side answer for each one.

The unit tests pin both mapping tables for every reason; the end-to-end tests pin the exact
error bodies and SMTP replies a client receives, so rewording one is a deliberate change.
"""

from __future__ import annotations

import smtplib
import typing

import pytest

from mailbot_sandbox import Sandbox
from mailbot_sandbox.api.errors import REASON_STATUS, http_error
from mailbot_sandbox.core import policy
from mailbot_sandbox.core.delivery import Received, Sent
from mailbot_sandbox.errors import (
    ApiError,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    WaitTimeout,
)
from mailbot_sandbox.smtp import replies
from tests.helpers import Api, send, smtp_message

A = "box--abc123@mailbot.id"

# reason, SMTP reply, HTTP status, error code, message, details, headers
CASES: list[tuple[policy.Reason, str, int, str, str, dict | None, dict]] = [
    (
        policy.PermissionDenied(A, "send"),
        f"550 5.7.1 inbox {A} may not send (no 'send' permission)",
        403,
        "permission_denied",
        f"inbox {A} may not send (no 'send' permission)",
        None,
        {},
    ),
    (
        policy.PermissionDenied(A, "receive"),
        f"550 5.7.1 <{A}>: inbox may not receive mail (no 'receive' permission); add "
        "'receive' to its permissions to take mail",
        403,
        "permission_denied",
        f"<{A}>: inbox may not receive mail (no 'receive' permission); add 'receive' to its "
        "permissions to take mail",
        None,
        {},
    ),
    (
        policy.PermissionDenied(A, "search"),
        f"550 5.7.1 inbox {A} may not search (no 'search' permission)",
        403,
        "permission_denied",
        f"inbox {A} may not search (no 'search' permission)",
        None,
        {},
    ),
    (
        policy.InboxInactive(A, "disabled", "send"),
        f"550 5.2.1 inbox {A} is disabled and cannot send",
        403,
        "inbox_disabled",
        f"inbox {A} is disabled and cannot send",
        None,
        {},
    ),
    (
        policy.InboxInactive(A, "suspended", "receive"),
        f"550 5.2.1 <{A}>: inbox is suspended; it takes mail again once it is active",
        403,
        "inbox_suspended",
        f"<{A}>: inbox is suspended; it takes mail again once it is active",
        None,
        {},
    ),
    (
        policy.DailyLimit(A, limit=5, sends_today=5, retry_after=3600),
        f"451 4.7.1 inbox {A} reached its daily send limit of 5; it resets at 00:00 UTC",
        429,
        "daily_send_limit_exceeded",
        f"inbox {A} reached its daily send limit of 5; it resets at 00:00 UTC",
        {"daily_send_limit": 5, "sends_today": 5},
        {"Retry-After": "3600"},
    ),
    (
        policy.UnknownRecipient(A),
        f"550 5.1.1 <{A}>: no such inbox in this sandbox",
        400,
        "invalid_request",
        f"<{A}>: no such inbox in this sandbox",
        None,
        {},
    ),
    (
        policy.AmbiguousRecipient("support@example.com", 2),
        "550 5.1.1 <support@example.com> is held by 2 sandbox accounts; send from an inbox of "
        "the intended account (API or SMTP AUTH) or use a shared-domain address",
        400,
        "invalid_request",
        "<support@example.com> is held by 2 sandbox accounts; send from an inbox of "
        "the intended account (API or SMTP AUTH) or use a shared-domain address",
        None,
        {},
    ),
    (
        policy.NoRecipientLeft(),
        "550 5.1.1 no recipient of this message takes mail any more",
        400,
        "invalid_request",
        "no recipient of this message takes mail any more",
        None,
        {},
    ),
    (
        policy.TooManyRecipients(limit=100),
        "452 4.5.3 too many recipients: a message goes to at most 100 (to, cc and bcc)",
        400,
        "invalid_request",
        "too many recipients: a message goes to at most 100 (to, cc and bcc)",
        None,
        {},
    ),
    (
        policy.TooLarge(size=2000, limit=1000),
        "552 5.3.4 message is 2000 bytes; the limit is 1000",
        413,
        "payload_too_large",
        "message is 2000 bytes; the limit is 1000",
        None,
        {},
    ),
    (
        policy.DomainNotVerified("example.org"),
        "550 5.7.1 domain example.org is not verified in this account: register it with "
        "POST /v1/domains, publish its DNS records and call verify",
        422,
        "domain_not_verified",
        "domain example.org is not verified in this account: register it with "
        "POST /v1/domains, publish its DNS records and call verify",
        {"domain": "example.org"},
        {},
    ),
    (
        policy.ComplianceBlocked("example.org"),
        "550 5.7.1 domain example.org is not verified in this account, so its inboxes may not "
        "send: publish its DNS records and call POST /v1/domains/{id}/verify",
        422,
        "compliance_blocked",
        "domain example.org is not verified in this account, so its inboxes may not send: "
        "publish its DNS records and call POST /v1/domains/{id}/verify",
        {"domain": "example.org"},
        {},
    ),
    (
        policy.SenderMismatch(A, "x@example.org", "envelope"),
        f"553 5.7.1 envelope sender <x@example.org> is not <{A}>, the inbox this session "
        "logged in as; send as that address (or start the sandbox with --smtp-sender-check "
        "off to relay for others)",
        403,
        "permission_denied",
        f"envelope sender <x@example.org> is not <{A}>, the inbox this session logged in as; "
        "send as that address (or start the sandbox with --smtp-sender-check off to relay "
        "for others)",
        None,
        {},
    ),
    (
        policy.InjectedFault("a@x.org", status=503, smtp_code=554, retry_after=3, remaining=2),
        "554 5.3.0 injected fault: inbox a@x.org fails this send on purpose (2 more to fail; "
        "clear with DELETE /sandbox/v1/inboxes/{id}/faults)",
        503,
        "service_unavailable",
        "injected fault: inbox a@x.org fails this send on purpose (2 more to fail; "
        "clear with DELETE /sandbox/v1/inboxes/{id}/faults)",
        {"injected_fault": True, "remaining": 2},
        {"Retry-After": "3"},
    ),
]


def test_every_reason_has_a_case_here_and_a_row_in_both_tables() -> None:
    reasons = set(typing.get_args(policy.Reason))
    assert {type(case[0]) for case in CASES} == reasons
    assert set(REASON_STATUS) == reasons
    assert set(replies.CODES) == reasons


@pytest.mark.parametrize("case", CASES, ids=lambda case: repr(case[0]))
def test_reason_to_smtp_reply(case: tuple) -> None:
    reason, reply = case[0], case[1]
    assert replies.refusal(reason) == reply
    assert replies.reply(reason) == reply


@pytest.mark.parametrize("case", CASES, ids=lambda case: repr(case[0]))
def test_reason_to_http_status_code_and_body(case: tuple) -> None:
    reason, _, status, code, message, details, headers = case
    refused = policy.refusal(reason)
    assert refused.reason == reason and refused.message == message
    error = http_error(refused)
    assert (error.status, error.code, error.message) == (status, code, message)
    assert (error.details, error.headers) == (details, headers)


def test_accepted_mail_replies_name_the_stored_messages() -> None:
    assert replies.reply(Received(("msg_1", "msg_2"))) == "250 2.0.0 OK stored as msg_1, msg_2"
    assert replies.reply(Sent("msg_3")) == "250 2.0.0 OK sent as msg_3"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ApiError("x"), 400, "invalid_request"),
        (InvalidRequest("x", field="to"), 400, "invalid_request"),
        (Unauthorized("x"), 401, "unauthorized"),
        (NotFound("x"), 404, "not_found"),
        (WaitTimeout("x"), 408, "wait_timeout"),
        (Conflict("x"), 409, "conflict"),
        (RateLimited("x", retry_after=0), 429, "rate_limited"),
    ],
)
def test_error_class_to_http_status(error: ApiError, status: int, code: str) -> None:
    mapped = http_error(error)
    assert (mapped.status, mapped.code, mapped.message) == (status, code, "x")
    if isinstance(error, RateLimited):
        assert mapped.headers == {"Retry-After": "1"}


def test_injection_names_the_inbox_before_the_receiving_rule() -> None:
    assert policy.refusal(
        policy.InboxInactive(A, "disabled", "receive"), injected=True
    ).message == (
        f"inbox {A} does not take mail: <{A}>: inbox is disabled; it takes mail again once it "
        "is active"
    )
    too_large = policy.TooLarge(size=2, limit=1)
    assert policy.describe_injection(too_large) == policy.describe(too_large)


def test_rules_check_status_before_permissions() -> None:
    inbox = {"address": A, "status": "suspended", "permissions": [], "daily_send_limit": 1}
    assert policy.may_send(inbox) == policy.InboxInactive(A, "suspended", "send")
    assert policy.may_receive(inbox, "BOX@x") == policy.InboxInactive(
        "BOX@x", "suspended", "receive"
    )
    assert policy.may_search(inbox) == policy.PermissionDenied(A, "search")
    assert policy.may_deliver_to(
        None, "a@mailbot.id", shared_domain="mailbot.id", catch_all=True
    ) == policy.UnknownRecipient("a@mailbot.id")
    assert policy.may_deliver_to(None, "a@b", shared_domain="mailbot.id", catch_all=True) is None
    assert policy.may_deliver_to(
        None, "a@b", shared_domain="mailbot.id", catch_all=False
    ) == policy.UnknownRecipient("a@b")
    active = {**inbox, "status": "active", "permissions": ["send", "receive", "search"]}
    assert policy.may_send(active) is policy.may_receive(active) is policy.may_search(active)
    assert policy.may_send(active) is None
    assert policy.within_daily_limit(active, 0, 10) is None
    assert policy.within_daily_limit(active, 1, 10) == policy.DailyLimit(A, 1, 1, 10)
    assert policy.within_size(10, 10) is None
    assert policy.within_size(11, 10) == policy.TooLarge(11, 10)


# -- what clients receive ------------------------------------------------------------------------
def _error(response: object) -> tuple[int, dict]:
    return response.status_code, response.json()["error"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", ["disabled", "suspended"])
def test_api_send_and_inject_from_an_inactive_inbox(api: Api, status: str) -> None:
    inbox = api.create_inbox()
    address = inbox["address"]
    api.post(f"/sandbox/v1/inboxes/{inbox['id']}/status", json={"status": status})
    sent = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "hi"}
    )
    assert _error(sent) == (
        403,
        {"code": f"inbox_{status}", "message": f"inbox {address} is {status} and cannot send"},
    )
    injected = api.post(f"/sandbox/v1/inboxes/{inbox['id']}/messages", json={"subject": "x"})
    assert _error(injected) == (
        403,
        {
            "code": f"inbox_{status}",
            "message": f"inbox {address} does not take mail: <{address}>: inbox is {status}"
            f"; it takes mail again once it is active",
        },
    )


def test_api_send_search_and_inject_without_the_permission(api: Api) -> None:
    inbox = api.create_inbox(permissions=["search"])
    nothing = api.create_inbox(permissions=["send"])
    address = inbox["address"]
    sent = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "hi"}
    )
    assert _error(sent) == (
        403,
        {
            "code": "permission_denied",
            "message": f"inbox {address} may not send (no 'send' permission)",
        },
    )
    injected = api.post(f"/sandbox/v1/inboxes/{inbox['id']}/messages", json={"subject": "x"})
    assert _error(injected) == (
        403,
        {
            "code": "permission_denied",
            "message": f"inbox {address} does not take mail: <{address}>: inbox may not receive "
            "mail (no 'receive' permission); add 'receive' to its permissions to take mail",
        },
    )
    searched = api.post(f"/v1/inboxes/{nothing['id']}/messages/search", json={"query": "x"})
    assert _error(searched) == (
        403,
        {
            "code": "permission_denied",
            "message": f"inbox {nothing['address']} may not search (no 'search' permission)",
        },
    )


def test_api_daily_limit_body_and_retry_after(api: Api) -> None:
    inbox = api.create_inbox(daily_send_limit=1)
    send(api, inbox, to="a@example.com")
    response = api.post(
        f"/v1/inboxes/{inbox['id']}/messages", json={"to": "a@example.com", "body_text": "hi"}
    )
    assert _error(response) == (
        429,
        {
            "code": "daily_send_limit_exceeded",
            "message": f"inbox {inbox['address']} reached its daily send limit of 1; "
            "it resets at 00:00 UTC",
            "details": {"daily_send_limit": 1, "sends_today": 1},
        },
    )
    assert int(response.headers["Retry-After"]) >= 1


def test_smtp_replies_for_recipients_and_submission(api: Api, sandbox: Sandbox) -> None:
    unknown = "nobody--zzzzzz@mailbot.id"
    deaf = api.create_inbox(permissions=["send"])
    off = api.create_inbox()
    api.post(f"/sandbox/v1/inboxes/{off['id']}/status", json={"status": "disabled"})
    mute = api.create_inbox(permissions=["receive"])
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.ehlo()
        client.mail("x@example.com")
        assert client.rcpt(unknown) == (
            550,
            f"5.1.1 <{unknown}>: no such inbox in this sandbox".encode(),
        )
        assert client.rcpt(deaf["address"]) == (
            550,
            f"5.7.1 <{deaf['address']}>: inbox may not receive mail (no 'receive' "
            "permission); add 'receive' to its permissions to take mail".encode(),
        )
        assert client.rcpt(off["address"]) == (
            550,
            f"5.2.1 <{off['address']}>: inbox is disabled; it takes mail again once it is "
            "active".encode(),
        )
        client.rset()
        client.login(mute["address"], api.key)
        assert client.mail(mute["address"]) == (
            550,
            f"5.7.1 inbox {mute['address']} may not send (no 'send' permission)".encode(),
        )
    receiver = api.create_inbox()
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.ehlo()
        client.mail("x@example.com")
        client.rcpt(receiver["address"])
        code, text = client.data(smtp_message("x@example.com", [receiver["address"]]))
    stored = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"]
    assert (code, text) == (250, f"2.0.0 OK stored as {stored[0]['id']}".encode())


def test_strict_domain_policy_wants_a_verified_domain() -> None:
    assert policy.may_host_inboxes("example.org", "verified") is None
    for status in ("pending", "failed", None):
        assert policy.may_host_inboxes("example.org", status) == policy.DomainNotVerified(
            "example.org"
        )


def test_auth_and_address_replies(api: Api, sandbox: Sandbox) -> None:
    inbox = api.create_inbox()
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(inbox["address"], "mb_not_this_accounts_key")
        assert (refused.value.smtp_code, refused.value.smtp_error) == (
            535,
            b"5.7.8 user must be an inbox address and password the API key of its account",
        )
        client.login(inbox["address"], api.key)
        client.mail(inbox["address"])
        assert client.rcpt("no-at-sign") == (553, b"5.1.3 <no-at-sign>: not a valid address")
