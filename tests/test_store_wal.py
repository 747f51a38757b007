"""The WAL file stays bounded: emptied once mail pauses, whatever a burst grew it to."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mailbot_sandbox.store import Store
from mailbot_sandbox.store.messages import insert_blob


def test_the_wal_is_emptied_when_writes_pause(tmp_path: Path) -> None:
    path = str(tmp_path / "mail.db")
    store = Store(path)
    try:
        for number in range(40):  # about 4 MB of WAL
            with store.write() as db:
                insert_blob(db.conn, os.urandom(100_000) + bytes([number]))
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 1_000_000
        deadline = time.monotonic() + 10
        while wal.stat().st_size > 0:  # the checkpointer runs once a second
            assert time.monotonic() < deadline, f"the WAL is still {wal.stat().st_size} bytes"
            time.sleep(0.1)
    finally:
        store.close()
