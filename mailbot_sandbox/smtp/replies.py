"""What the SMTP side answers for each outcome of the domain layer: the one table of reply
codes for mail accepted or refused by a rule of :mod:`~mailbot_sandbox.core.policy`, and the
handler's own replies. (The protocol's replies to malformed commands stay with it, worded as
aiosmtpd words them.)"""

from __future__ import annotations

from mailbot_sandbox.core.delivery import Received, Sent
from mailbot_sandbox.core.policy import (
    AmbiguousRecipient,
    ComplianceBlocked,
    DailyLimit,
    DomainNotVerified,
    InboxInactive,
    InjectedFault,
    NoRecipientLeft,
    PermissionDenied,
    Reason,
    SenderMismatch,
    TooLarge,
    TooManyRecipients,
    UnknownRecipient,
    describe,
)

# Reply code and enhanced status code (RFC 3463) for each reason.
CODES: dict[type[Reason], str] = {
    UnknownRecipient: "550 5.1.1",  # bad destination mailbox address
    AmbiguousRecipient: "550 5.1.1",
    NoRecipientLeft: "550 5.1.1",
    InboxInactive: "550 5.2.1",  # mailbox disabled, not accepting messages
    PermissionDenied: "550 5.7.1",  # delivery not authorized
    DomainNotVerified: "550 5.7.1",
    ComplianceBlocked: "550 5.7.1",  # delivery not authorized
    DailyLimit: "451 4.7.1",  # temporary: the count resets at midnight
    TooLarge: "552 5.3.4",  # message too big for system
    TooManyRecipients: "452 4.5.3",  # too many recipients: the client sends the rest later
    SenderMismatch: "553 5.7.1",  # sender address not allowed for this login
    InjectedFault: "451 4.3.0",  # the default; a fault names its own code, see refusal()
}

RECIPIENT_OK = "250 2.1.5 OK"
SENDER_OK = "250 2.1.0 OK"
AUTH_INVALID = "535 5.7.8 user must be an inbox address and password the API key of its account"


def invalid_address(address: str) -> str:
    """The reply to a recipient that is not an email address (after AUTH)."""
    return f"553 5.1.3 <{address}>: not a valid address"


def refusal(reason: Reason) -> str:
    """The SMTP reply that refuses with ``reason``."""
    if isinstance(reason, InjectedFault):  # the code the fault names; X.3.0: system status
        return f"{reason.smtp_code} {reason.smtp_code // 100}.3.0 {describe(reason)}"
    return f"{CODES[type(reason)]} {describe(reason)}"


def reply(outcome: Received | Sent | Reason) -> str:
    """The SMTP reply to a DATA: the stored message ids, or the refusal."""
    if isinstance(outcome, Received):
        kept = [*outcome.message_ids]
        if outcome.captured_id is not None:
            kept.append(f"captured {outcome.captured_id}")
        return f"250 2.0.0 OK stored as {', '.join(kept)}"
    if isinstance(outcome, Sent):
        return f"250 2.0.0 OK sent as {outcome.message_id}"
    return refusal(outcome)
