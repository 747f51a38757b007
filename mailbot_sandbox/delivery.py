"""Mail delivery between inboxes and from SMTP. (Storage of messages arrives with mail flow.)"""

from __future__ import annotations

from mailbot_sandbox.inboxes import Inboxes


class Delivery:
    """Routes mail to inboxes by address."""

    def __init__(self, inboxes: Inboxes) -> None:
        self._inboxes = inboxes

    def refuse_recipient(self, address: str) -> str | None:
        """The SMTP refusal for ``address``, or None when the inbox takes mail."""
        inbox = self._inboxes.find_by_address(address)
        if inbox is None:
            return f"550 5.1.1 <{address}>: no such inbox in this sandbox"
        if inbox["status"] != "active":
            return f"550 5.2.1 <{address}>: inbox is {inbox['status']}"
        if "receive" not in inbox["permissions"]:
            return f"550 5.7.1 <{address}>: inbox may not receive mail (no 'receive' permission)"
        return None

    def receive_smtp(self, mail_from: str, recipients: list[str], raw: bytes) -> str:
        return "451 4.3.2 message storage is not available in this build yet"
