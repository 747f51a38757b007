"""The DATA reader against RFC 5321's transparency rules, fed in every way TCP may split it."""

from __future__ import annotations

import asyncio
import random

import pytest

from mailbot_sandbox.smtp.protocol import read_data


def stuff(message: bytes) -> bytes:
    """What a client sends for ``message`` (lines ending in CRLF): dots doubled, then ``.``."""
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines) + (
        b".\r\n"
    )


def read(wire: bytes, *, pieces: list[int], stream_limit: int, size_limit: int) -> bytes | None:
    async def run() -> tuple[bytes | None, bytes]:
        reader = asyncio.StreamReader(limit=stream_limit)
        position = 0
        for length in pieces:
            reader.feed_data(wire[position : position + length])
            position += length
        reader.feed_data(wire[position:] + b"QUIT\r\n")
        reader.feed_eof()
        result = await read_data(reader, size_limit)
        return result, await reader.read()

    result, rest = asyncio.run(run())
    assert rest == b"QUIT\r\n", "the reader must stop right after the end of the message"
    return result


MESSAGES = [
    b"",
    b"\r\n",
    b".\r\n",
    b"..\r\n",
    b"Subject: x\r\n\r\nend.\r\n",
    b"Subject: x\r\n\r\n.\r\n.\r\n..\r\n",
    b"a.\r\n.b\r\n\r\n.\r\nlast line.\r\n",
    b"no final dot line\r\n",
]


@pytest.mark.parametrize("message", MESSAGES)
def test_each_known_message_reads_back_exactly(message: bytes) -> None:
    wire = stuff(message)
    for stream_limit in (4, 7, 64 * 1024):
        for cut in range(len(wire) + 1):
            got = read(wire, pieces=[cut], stream_limit=stream_limit, size_limit=10_000)
            assert got == message


def test_random_messages_in_random_pieces_read_back_exactly() -> None:
    rng = random.Random(5321)
    alphabet = [b".", b"\r\n", b"a", b"\r", b"\n", b". ", b".\r\n", b"\x00", b"\xff"]
    for _ in range(400):
        body = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        message = body.replace(b"\r\n", b"\n").replace(b"\r", b"").replace(b"\n", b"\r\n")
        if message and not message.endswith(b"\r\n"):
            message += b"\r\n"
        wire = stuff(message)
        pieces = [rng.randrange(1, 6) for _ in range(rng.randrange(0, 8))]
        got = read(wire, pieces=pieces, stream_limit=rng.choice([4, 5, 9, 1024]), size_limit=10_000)
        assert got == message, wire


def test_a_message_over_the_size_limit_is_read_to_its_end_and_refused() -> None:
    message = b"x" * 70 + b"\r\n"
    wire = stuff(message * 20)
    assert read(wire, pieces=[100, 100], stream_limit=64, size_limit=1000) is None
    assert read(wire, pieces=[], stream_limit=64, size_limit=len(message) * 20) == message * 20


PATHS = [
    "<a@b.example>",
    "<a@b.example> SIZE=1000",
    "<first.last+tag@sub.mail.example>\tBODY=8BITMIME  SMTPUTF8",
    "  <a@b.example>",
    "<>",
    "<a@[127.0.0.1]>",
    '<"quoted local"@b.example>',
    "<a..b@b.example>",
    "<.a@b.example>",
    "<a@b.example",
    "a@b.example",
    "a@b.example SIZE=5",
    "<(comment)a@b.example>",
    "<ü@b.example>",
    "<" + "x" * 70 + "@b.example>",
    "<a@b.example>x",
    "",
]


@pytest.mark.parametrize("arg", PATHS)
def test_address_fast_path_agrees_with_aiosmtpd(arg: str) -> None:
    """The plain-address shortcut must give what aiosmtpd's own parser gives."""
    from aiosmtpd.smtp import SMTP

    from mailbot_sandbox.smtp.protocol import TolerantSMTP

    class Handler:
        pass

    async def both() -> tuple[object, object]:
        ours = TolerantSMTP(Handler())
        theirs = SMTP(Handler())
        ours.local_part_limit = theirs.local_part_limit = 64
        return ours._getaddr(arg), theirs._getaddr(arg)

    ours, theirs = asyncio.run(both())
    assert ours == theirs
