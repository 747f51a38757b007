"""A bare aiosmtpd sink that stores nothing: the baseline of ``smtp_ingest.py``.

Same aiosmtpd options as the sandbox's own server (given hostname, no decoding, long lines),
but a handler whose ``handle_DATA`` only answers ``250 OK``. Prints ``SMTP 127.0.0.1:PORT``
once listening; stops on SIGTERM.

With ``--tuned`` it uses the sandbox's own SMTP class (its faster DATA reader and address
parsing) on uvloop instead of stock aiosmtpd on asyncio's loop: what the sandbox's protocol
layer alone does in one process, for comparison.
"""

from __future__ import annotations

import asyncio
import sys

from _common import serve_until_stopped
from aiosmtpd.smtp import SMTP, Envelope, Session


class NullHandler:
    """Accepts every message and keeps none of it."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


class LongLineSMTP(SMTP):
    line_length_limit = 1024 * 1024


async def main(smtp_class: type[SMTP] = LongLineSMTP) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: smtp_class(
            NullHandler(),
            hostname="bare-sink",
            data_size_limit=25 * 1024 * 1024,
            enable_SMTPUTF8=True,
            decode_data=False,
        ),
        host="127.0.0.1",
        port=0,
    )
    await serve_until_stopped(server, "SMTP")


if __name__ == "__main__":
    if "--tuned" in sys.argv[1:]:
        import uvloop

        from mailbot_sandbox.smtp.protocol import TolerantSMTP

        uvloop.run(main(TolerantSMTP))
    else:
        asyncio.run(main())
