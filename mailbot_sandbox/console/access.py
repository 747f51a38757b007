"""Who is looking at the console, and what they may see and change.

By default the console is open, as Mailpit's is: whoever reaches the port sees every account.
With ``console_auth = "key"`` (and always when the sandbox accepts only configured keys) a
person signs in with an API key and sees only that key's account. The session is Flask's
signed cookie; every form that changes something carries a CSRF token kept in it.
"""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, g, request, session

from mailbot_sandbox.api.common import services
from mailbot_sandbox.config import Config
from mailbot_sandbox.core.accounts import Account, account_with_id, owner_of_inbox, stored_accounts
from mailbot_sandbox.errors import ConfigError, Forbidden, NotFound

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SECRET_FILE = "console-secret"


@dataclass(frozen=True)
class Viewer:
    """The person at the console: ``account`` when signed in with a key, else None, and
    then (in an open console) every account is theirs to see."""

    account: Account | None
    needs_key: bool

    @property
    def signed_in(self) -> bool:
        return self.account is not None

    def accounts(self) -> list[Account]:
        """The accounts this person sees, oldest first."""
        if self.account is not None:
            return [self.account]
        return stored_accounts(services().store)

    def scope(self) -> list[Account] | None:
        """The accounts to list, None meaning every account (an open console)."""
        return None if self.account is None else [self.account]

    def owner(self, inbox_id: str) -> Account:
        """The account of an inbox this person may see.

        Raises:
            NotFound: there is no such inbox, or it belongs to another account (which is
                never revealed).
        """
        if self.account is not None:
            services().inboxes.row(self.account, inbox_id)
            return self.account
        owner = owner_of_inbox(services().store, inbox_id)
        if owner is None:
            raise NotFound(f"inbox {inbox_id!r} not found")
        return owner

    def account_named(self, account_id: str | None) -> Account | None:
        """The account of a filter (``?account=``) if this person may see it."""
        if not account_id:
            return None
        found = next((a for a in self.accounts() if a.id == account_id), None)
        if found is None:
            raise NotFound(f"account {account_id!r} not found")
        return found


def viewer() -> Viewer:
    """The viewer of the current request (set by :func:`load_viewer`)."""
    return g.console_viewer


def load_viewer() -> None:
    """``before_request``: read the session into a :class:`Viewer`."""
    config: Config = services().config
    account = None
    account_id = session.get("account_id")
    if isinstance(account_id, str) and config.console_needs_key:
        account = account_with_id(services().store, account_id)
    g.console_viewer = Viewer(account=account, needs_key=config.console_needs_key)


def sign_in(key: str) -> Account:
    """Start a session for the account of ``key``.

    Raises:
        Unauthorized: the key is malformed or, with configured keys, unknown.
    """
    account = services().accounts.for_key(key.strip())
    session.clear()
    session["account_id"] = account.id
    session.permanent = False
    return account


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """``before_request``: a request that changes something must carry the session's token.

    Raises:
        Forbidden: the token is missing or is not this session's.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            "this form is missing its CSRF token or it has expired; reload the page and try again"
        )


def secret_key(config: Config) -> bytes:
    """The key that signs session cookies.

    Kept next to a database file, so that every worker process of ``serve`` and a restart
    accept the same sessions; made afresh for a database in memory (one process, gone at exit).
    """
    if config.db == ":memory:" or not config.db:
        return secrets.token_bytes(32)
    path = Path(config.db).resolve().parent / SECRET_FILE
    if not path.exists():
        # Written aside, then linked into place: a racing worker either links first (and
        # this one reads its key) or finds the whole file, never a half-written one.
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".console-secret-")
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    stored = path.read_bytes()
    if len(stored) < 32:
        raise ConfigError(f"the console's session secret {path} is too short; delete it")
    return stored


def install(app: Flask, config: Config) -> None:
    """Set the session cookie's key and flags on ``app``."""
    if not app.secret_key:
        app.secret_key = secret_key(config)
    app.config.update(
        SESSION_COOKIE_NAME="mailbot_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
