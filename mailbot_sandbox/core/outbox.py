"""Captured external mail: what inboxes sent to addresses outside the sandbox.

Nothing ever leaves the machine; each such send is kept here for tests to assert on.
"""

from __future__ import annotations

from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import NotFound
from mailbot_sandbox.mail.message import ParsedMail
from mailbot_sandbox.store import Store, messages, outbox
from mailbot_sandbox.store.outbox import CapturedAttachment, CapturedRow


def listed_attachments(content: ParsedMail) -> list[CapturedAttachment]:
    """The attachments of a captured message as its outbox entry lists them."""
    return [
        CapturedAttachment(filename=a.filename, content_type=a.content_type, size=len(a.content))
        for a in content.attachments
    ]


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store

    def list_page(
        self,
        account: Account,
        *,
        page: int,
        limit: int,
        to: str | None = None,
        inbox_id: str | None = None,
    ) -> tuple[list[CapturedRow], int]:
        """Newest first; ``to`` matches one recipient exactly (case-insensitive)."""
        return outbox.captured_page(
            self._store,
            account.id,
            limit=limit,
            offset=(page - 1) * limit,
            to=to.strip() if to else None,
            inbox_id=inbox_id,
        )

    def get(self, account: Account, captured_id: str) -> CapturedRow:
        row = outbox.get_captured(self._store, account.id, captured_id)
        if row is None:
            raise NotFound(f"captured message {captured_id!r} not found")
        return row

    def raw(self, account: Account, captured_id: str) -> bytes:
        return messages.raw_bytes(self._store, self.get(account, captured_id)["raw_id"])
