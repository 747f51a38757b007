"""Hypothesis-built MIME messages handed to a real running sandbox over SMTP.

The strategies build what broken mail looks like in the wild: multiparts nested several deep,
boundaries declared and never used (or used and never declared, or never closed), odd and
unknown charsets, base64 and quoted-printable that do not decode, encoded words that lie about
their charset, header lines of 100 KB, bytes that are not UTF-8, bare-LF line endings and
attachments whose names try to escape a folder or a header. A sink must take all of it: each
message is answered ``250``, then stored once, readable as JSON, its raw bytes exactly as sent,
and every attachment it lists downloads with a header a client can read.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from mailbot_sandbox import Sandbox
from tests.helpers import Api, fresh_key
from tests.smtp_wire import Wire, assert_ready, check_stored, stuff, unstuffed

FAST_EXAMPLES = 50
SLOW_EXAMPLES = 500

charset = st.sampled_from(
    [b"utf-8", b"iso-8859-1", b"windows-1252", b"shift_jis", b"utf-7", b"x-no-such-charset",
     b"", b'"utf-8"', b"utf-8; format=flowed", b"\xff\xfe"]
)  # fmt: skip
transfer_encoding = st.sampled_from(
    [None, b"7bit", b"8bit", b"binary", b"base64", b"quoted-printable", b"x-uuencode", b"bogus"]
)
hostile_filename = st.sampled_from(
    [
        b"../../../etc/passwd",
        "r\u00e9sum\u00e9\u20ac.pdf".encode(),
        "\u00fcn\u00efc\u00f6d\u00e9.txt".encode("latin-1"),
        b"a\x00b.txt",
        b"CON",
        b"",
        b'\\"quoted\\".txt',
        b"x" * 2000 + b".bin",
        b"..\\..\\windows\\system32\\cmd.exe",
        b"=?utf-8?B?4oKsLi4vLi4v?=.pdf",
        b"folded\r\n name.txt",
        b"semi;colon=x.txt",
    ]
)
header_text = st.one_of(
    st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=80),
    st.sampled_from(
        [
            b"=?utf-8?B?4oKsIGV1cm8=?=",
            b"=?iso-8859-1?Q?caf=E9?= =?utf-8?Q?=E2=82=AC?=",
            b"=?x-bad?Q?=FF=FE?=",
            b"=?utf-8?B?####?=",
            b"=?utf-8?Q?unterminated",
            b"=?shift_jis?B?grbn?=",
        ]
    ),
    st.integers(1_000, 120_000).map(lambda n: b"huge " + b"x" * n),
    st.integers(1, 400).map(lambda n: b"folded" + b"\r\n word" * n),
).map(lambda value: value.replace(b"\r\n", b"\0").replace(b"\n", b" ").replace(b"\0", b"\r\n"))
body_bytes = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300).map(base64.encodebytes),
    st.sampled_from([b"abc=def!!", b"=ZZ=\r\n=4", b"====", b"\xff\xfe\x00", b"begin 644 x\r\n`"]),
)


@st.composite
def leaf(draw: st.DrawFn) -> tuple[list[bytes], bytes]:
    """A single part: (header lines, body)."""
    kind = draw(
        st.sampled_from([b"text/plain", b"text/html", b"application/octet-stream", b"image/png"])
    )
    headers = [b"Content-Type: " + kind + b"; charset=" + draw(charset)]
    encoding = draw(transfer_encoding)
    if encoding is not None:
        headers.append(b"Content-Transfer-Encoding: " + encoding)
    if draw(st.booleans()):
        name = draw(hostile_filename)
        disposition = draw(st.sampled_from([b"attachment", b"inline", b"bogus"]))
        form = draw(st.sampled_from(["quoted", "extended", "content-type-name", "bare"]))
        if form == "quoted":
            headers.append(b"Content-Disposition: " + disposition + b'; filename="' + name + b'"')
        elif form == "extended":
            escaped = "".join(f"%{byte:02X}" for byte in name).encode()
            parameter = b"; filename*=utf-8''" + escaped
            headers.append(b"Content-Disposition: " + disposition + parameter)
        elif form == "content-type-name":
            headers[0] += b'; name="' + name + b'"'
        else:
            headers.append(b"Content-Disposition: " + disposition + b"; filename=" + name)
    return headers, draw(body_bytes)


@st.composite
def multipart(draw: st.DrawFn, children: st.SearchStrategy) -> tuple[list[bytes], bytes]:
    """A multipart of ``children``, with boundaries right, wrong or missing."""
    subtype = draw(st.sampled_from([b"mixed", b"alternative", b"related", b"digest", b"weird"]))
    boundary = draw(st.sampled_from([b"b1", b"==_x_==", b"a" * 80, b"", b"sp ace"]))
    declared = draw(st.sampled_from(["quoted", "bare", "missing", "other"]))
    parameter = {
        "quoted": b'; boundary="' + boundary + b'"',
        "bare": b"; boundary=" + boundary,
        "missing": b"",
        "other": b'; boundary="not-used-anywhere"',
    }[declared]
    parts = draw(st.lists(children, min_size=0, max_size=4))
    body = draw(st.sampled_from([b"", b"preamble junk\r\n"]))
    for headers, part_body in parts:
        body += b"--" + boundary + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + part_body
        body += b"\r\n"
    body += draw(st.sampled_from([b"--" + boundary + b"--\r\n", b"", b"--" + boundary + b"\r\n"]))
    return [b"Content-Type: multipart/" + subtype + parameter], body


mime_part = st.recursive(leaf(), lambda children: multipart(children), max_leaves=8)


@st.composite
def mail(draw: st.DrawFn) -> bytes:
    """A whole message: top-level headers, then a MIME part, in CRLF or bare-LF lines."""
    headers = [
        b"From: " + draw(st.sampled_from([b"Ann <ann@example.com>", b"", b"<>", b"\xe9@x"])),
        b"Subject: " + draw(header_text),
        b"Message-ID: " + draw(st.sampled_from([b"<id@example.com>", b"", b"no brackets"])),
    ]
    if draw(st.booleans()):
        headers.append(b"MIME-Version: 1.0")
    headers += [
        name + b": " + value
        for name, value in draw(
            st.lists(
                st.tuples(st.sampled_from([b"X-Fuzz", b"Received", b"To", b"Date"]), header_text),
                max_size=4,
            )
        )
    ]
    part_headers, body = draw(mime_part)
    raw = b"\r\n".join(headers + part_headers) + b"\r\n\r\n" + body
    return raw.replace(b"\r\n", b"\n") if draw(st.booleans()) else raw


def check_messages(sandbox: Sandbox, examples: int) -> None:
    api = Api(sandbox.base_url, fresh_key())

    @given(raw=mail())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def one_message(raw: bytes) -> None:
        note(f"raw={raw[:3000]!r}")
        inbox = api.create_inbox()
        wire = Wire(sandbox)
        try:
            for line in (b"EHLO client.example", b"MAIL FROM:<a@example.com>"):
                assert wire.command(line + b"\r\n").code == 250
            assert wire.command(f"RCPT TO:<{inbox['address']}>\r\n".encode()).code == 250
            assert wire.command(b"DATA\r\n").code == 354
            reply = wire.command(stuff(raw))
        finally:
            wire.close()
        assert reply.code == 250 and len(reply.stored_ids) == 1, reply
        check_stored(api, inbox["id"], {reply.stored_ids[0]: unstuffed(raw)})

    try:
        one_message()
        assert_ready(sandbox, api)
    finally:
        api.close()


def test_generated_mime_messages_are_stored_byte_exact(sandbox: Sandbox) -> None:
    check_messages(sandbox, FAST_EXAMPLES)


@pytest.mark.slow
def test_many_generated_mime_messages(sandbox: Sandbox) -> None:
    check_messages(sandbox, SLOW_EXAMPLES)
