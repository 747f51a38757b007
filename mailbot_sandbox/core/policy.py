"""Every rule about an inbox, decided here and answered as a reason.

A rule says *why* something may not happen (:class:`PermissionDenied`, :class:`InboxInactive`,
:class:`DailyLimit`, ...) and nothing about how a protocol says it: the API maps a reason to a
status and an error code (``api/errors.py``), the SMTP handler to a reply
(``smtp/replies.py``). The sentence a person reads comes from :func:`describe`, the one place
where a reason is put into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailbot_sandbox.errors import ApiError
from mailbot_sandbox.store.inboxes import InboxRow

Permission = Literal["send", "receive", "search"]
MAX_RECIPIENTS = 100  # per message: to, cc and bcc of an API send, RCPTs of an SMTP transaction
Action = Literal["send", "receive"]


@dataclass(frozen=True)
class PermissionDenied:
    """The inbox lacks ``permission``."""

    address: str
    permission: Permission


@dataclass(frozen=True)
class InboxInactive:
    """The inbox is ``disabled`` or ``suspended``, so it may not ``action`` mail."""

    address: str
    status: str
    action: Action


@dataclass(frozen=True)
class DailyLimit:
    """The inbox sent ``sends_today`` of its ``limit`` today; the count resets in
    ``retry_after`` seconds (the next UTC midnight of the sandbox clock)."""

    address: str
    limit: int
    sends_today: int
    retry_after: int


@dataclass(frozen=True)
class UnknownRecipient:
    """No sandbox inbox has this address."""

    address: str


@dataclass(frozen=True)
class AmbiguousRecipient:
    """Inboxes of several accounts share this custom-domain address and nothing says which."""

    address: str
    holders: int


@dataclass(frozen=True)
class NoRecipientLeft:
    """Every recipient accepted earlier stopped taking mail before the message was stored."""


@dataclass(frozen=True)
class TooLarge:
    """The message is ``size`` bytes, over the ``limit``."""

    size: int
    limit: int


@dataclass(frozen=True)
class TooManyRecipients:
    """A message may go to at most ``limit`` recipients (to, cc and bcc together)."""

    limit: int


@dataclass(frozen=True)
class DomainNotVerified:
    """Strict domain policy: the inbox's custom domain is not verified in its account."""

    domain: str


@dataclass(frozen=True)
class ComplianceBlocked:
    """Strict domain policy: an inbox's custom domain is no longer verified (a verify failed
    since, or the domain was deleted), so it may not send."""

    domain: str


@dataclass(frozen=True)
class SenderMismatch:
    """A client logged in as the inbox ``address`` gave ``sender`` as the envelope sender
    (``where`` = ``"envelope"``) or as the ``From:`` address (``"From"``)."""

    address: str
    sender: str
    where: Literal["envelope", "From"]


@dataclass(frozen=True)
class InjectedFault:
    """The control plane told the inbox's next sends (or SMTP deliveries) to fail: with
    ``status`` over HTTP, ``smtp_code`` over SMTP; ``remaining`` more will fail after this
    one, and a client told to retry may do so in ``retry_after`` seconds."""

    address: str
    status: int
    smtp_code: int
    retry_after: int
    remaining: int


Reason = (
    PermissionDenied
    | InboxInactive
    | DailyLimit
    | UnknownRecipient
    | AmbiguousRecipient
    | NoRecipientLeft
    | TooLarge
    | TooManyRecipients
    | DomainNotVerified
    | ComplianceBlocked
    | SenderMismatch
    | InjectedFault
)


class Refused(ApiError):
    """A rule said no; ``reason`` says which and why. Raise it through :func:`refusal`."""

    code = "refused"

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# -- the rules -------------------------------------------------------------------------------------
def may_send(inbox: InboxRow) -> InboxInactive | PermissionDenied | None:
    """Why ``inbox`` may not send now (API send or reply, SMTP submission), or None."""
    if inbox["status"] != "active":
        return InboxInactive(inbox["address"], inbox["status"], "send")
    if "send" not in inbox["permissions"]:
        return PermissionDenied(inbox["address"], "send")
    return None


def may_receive(
    inbox: InboxRow, address: str | None = None
) -> InboxInactive | PermissionDenied | None:
    """Why ``inbox`` may not take mail now, or None; ``address`` is how the mail named it
    (the envelope recipient as written), the inbox's own address by default."""
    address = inbox["address"] if address is None else address
    if inbox["status"] != "active":
        return InboxInactive(address, inbox["status"], "receive")
    if "receive" not in inbox["permissions"]:
        return PermissionDenied(address, "receive")
    return None


def may_search(inbox: InboxRow) -> PermissionDenied | None:
    """Why ``inbox`` may not search its messages, or None. A disabled or suspended inbox
    keeps its mail readable, so status does not matter here."""
    if "search" not in inbox["permissions"]:
        return PermissionDenied(inbox["address"], "search")
    return None


def may_deliver_to(
    inbox: InboxRow | None, address: str, *, shared_domain: str, catch_all: bool
) -> UnknownRecipient | InboxInactive | PermissionDenied | None:
    """Why mail over SMTP to ``address`` (found as ``inbox``, None when no inbox has it) is
    refused, or None when it is taken: by the inbox, or, for an address no inbox holds,
    captured in the local account when there is a ``catch_all`` (as an API send captures
    it). An unknown address on the ``shared_domain`` is refused either way: it can only be
    a mistake, as for an API send, where it bounces."""
    if inbox is None:
        if catch_all and not is_on_domain(address, shared_domain):
            return None
        return UnknownRecipient(address)
    return may_receive(inbox, address)


def is_on_domain(address: str, domain: str) -> bool:
    """True when ``address`` is on ``domain`` (case-insensitive)."""
    return address.rpartition("@")[2].lower() == domain.lower()


def may_host_inboxes(domain: str, status: str | None) -> DomainNotVerified | None:
    """Why a custom ``domain`` (its ``status`` in the account, None when not registered) may
    not take a new inbox under the strict domain policy, or None."""
    return None if status == "verified" else DomainNotVerified(domain)


def may_send_from_domain(domain: str, status: str | None) -> ComplianceBlocked | None:
    """Why an inbox on custom ``domain`` (its ``status`` in the account, None when not
    registered) may not send under the strict domain policy, or None."""
    return None if status == "verified" else ComplianceBlocked(domain)


def may_send_as(
    address: str, sender: str, where: Literal["envelope", "From"]
) -> SenderMismatch | None:
    """Why a client logged in as the inbox ``address`` may not send as ``sender`` (its
    envelope sender or its ``From:`` address), or None: only its own address."""
    if sender.strip().lower() != address.lower():
        return SenderMismatch(address, sender, where)
    return None


def within_daily_limit(inbox: InboxRow, sends_today: int, retry_after: int) -> DailyLimit | None:
    """Why one more send today is refused (``sends_today`` already counted), or None."""
    if sends_today >= inbox["daily_send_limit"]:
        return DailyLimit(inbox["address"], inbox["daily_send_limit"], sends_today, retry_after)
    return None


def within_recipient_cap(count: int) -> TooManyRecipients | None:
    """Why a message to ``count`` distinct recipients is refused, or None: the same cap for
    an API send (``to``, ``cc`` and ``bcc`` together) and an SMTP transaction."""
    return TooManyRecipients(MAX_RECIPIENTS) if count > MAX_RECIPIENTS else None


def within_size(size: int, limit: int) -> TooLarge | None:
    """Why a message of ``size`` bytes is refused under ``limit``, or None."""
    return TooLarge(size, limit) if size > limit else None


# -- words ---------------------------------------------------------------------------------------
def describe(reason: Reason) -> str:
    """The sentence a person reads for ``reason``, the same over HTTP and SMTP."""
    match reason:
        case PermissionDenied(address, "receive"):
            return (
                f"<{address}>: inbox may not receive mail (no 'receive' permission); "
                "add 'receive' to its permissions to take mail"
            )
        case PermissionDenied(address, permission):
            return f"inbox {address} may not {permission} (no '{permission}' permission)"
        case InboxInactive(address, status, "receive"):
            return f"<{address}>: inbox is {status}; it takes mail again once it is active"
        case InboxInactive(address, status, action):
            return f"inbox {address} is {status} and cannot {action}"
        case DailyLimit(address, limit):
            return (
                f"inbox {address} reached its daily send limit of {limit}; it resets at 00:00 UTC"
            )
        case UnknownRecipient(address):
            return f"<{address}>: no such inbox in this sandbox"
        case AmbiguousRecipient(address, holders):
            return (
                f"<{address}> is held by {holders} sandbox accounts; send from an inbox of the "
                "intended account (API or SMTP AUTH) or use a shared-domain address"
            )
        case NoRecipientLeft():
            return "no recipient of this message takes mail any more"
        case TooLarge(size, limit):
            return f"message is {size} bytes; the limit is {limit}"
        case TooManyRecipients(limit):
            return f"too many recipients: a message goes to at most {limit} (to, cc and bcc)"
        case DomainNotVerified(domain):
            return (
                f"domain {domain} is not verified in this account: register it with "
                "POST /v1/domains, publish its DNS records and call verify"
            )
        case ComplianceBlocked(domain):
            return (
                f"domain {domain} is not verified in this account, so its inboxes may not send: "
                "publish its DNS records and call POST /v1/domains/{id}/verify"
            )
        case SenderMismatch(address, sender, where):
            what = "envelope sender" if where == "envelope" else "From: address"
            return (
                f"{what} <{sender}> is not <{address}>, the inbox this session logged in as; "
                "send as that address (or start the sandbox with --smtp-sender-check off "
                "to relay for others)"
            )
        case InjectedFault(address, remaining=remaining):
            return (
                f"injected fault: inbox {address} fails this send on purpose "
                f"({remaining} more to fail; clear with DELETE /sandbox/v1/inboxes/{{id}}/faults)"
            )
    raise AssertionError(f"unknown reason {reason!r}")  # pragma: no cover


def describe_injection(reason: Reason) -> str:
    """The sentence for a control-plane injection that ``reason`` refused: the receiving
    rule's own words, prefixed with the inbox they are about."""
    if isinstance(reason, InboxInactive | PermissionDenied):
        return f"inbox {reason.address} does not take mail: {describe(reason)}"
    return describe(reason)


def refusal(reason: Reason, *, injected: bool = False) -> Refused:
    """The exception that carries ``reason`` out of the domain layer, worded by
    :func:`describe` (:func:`describe_injection` when ``injected``)."""
    return Refused(reason, describe_injection(reason) if injected else describe(reason))
