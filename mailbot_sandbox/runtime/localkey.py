"""The key of the sandbox's local account, where plain SMTP mail to outside addresses is
captured (the catch-all): the one configured, else the one kept beside the database file."""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path

from mailbot_sandbox.config import Config
from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.ids import is_well_formed_key


def key_file(db: str) -> Path:
    """Where the generated catch-all key of the database ``db`` is kept."""
    return Path(f"{Path(db).expanduser()}.catch-all-key")


def with_catch_all_key(config: Config) -> Config:
    """``config`` with a catch-all key: the given one; for a database file, the key kept
    beside it (made and kept on first start, so captures stay in one account across
    restarts); for a database in memory, a new one.

    Raises:
        ConfigError: the kept key file cannot be read or written, or holds no valid key.
    """
    if config.catch_all_key:
        return config
    if config.db == ":memory:":
        return replace(config, catch_all_key=_new_key())
    path = key_file(config.db)
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = _new_key()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: when two starts race, the second one reads the first one's key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot keep the catch-all key in data folder {path.parent}: {exc.strerror}"
            ) from None
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(key + "\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the catch-all key in data folder {path.parent}: {exc.strerror}"
        ) from None
    if not is_well_formed_key(key):
        raise ConfigError(
            f"{path} holds no catch-all key of the form mb_...; delete it or give --catch-all-key"
        )
    return replace(config, catch_all_key=key)


def _new_key() -> str:
    return f"mb_local_{secrets.token_hex(12)}"
