"""Parsing every received message into the fields the sandbox stores.

Parsing uses ``compat32`` (several times faster than ``policy.default``) and decodes headers
here (8-bit bytes, RFC 2047 words, lying charsets), so one bad header or part costs no other.
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import mimetypes
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from mailbot_sandbox.mail.message import Attachment, ParsedMail

_PARSER = BytesParser(policy=email_policy.compat32)
# Re-serializes enclosed message/rfc822 parts: wire line endings, no refolding.
_EMBEDDED_POLICY = email_policy.compat32.clone(linesep="\r\n", max_line_length=None)
# 7-bit bodies (quoted-printable/base64) unless the addresses force SMTPUTF8 anyway.
_MAX_PARAMS = 8192  # longest Content-* header value kept; real ones stay under 1 KB
_MAX_ADDRESSES = 32768  # characters of an address header given to getaddresses
_MAX_DEPTH = 40  # deeper MIME trees are abuse, not mail; their inner parts are skipped

# [^?]* (not .*?) keeps matching linear on long headers full of "=?".
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_ADDRESS_SPECIALS = re.compile(r'["():;\\\[\]]')
_SIMPLE_ADDRESS = re.compile(
    r"\s*(?:([^<>@]*?)\s*<([^<>\s@]+@[^<>\s@]+)>|([^<>\s@]+@[^<>\s@]+))\s*"
)
_HEADER_END = re.compile(rb"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")
_LINE_END = re.compile(r"\r\n|\r|\n")
_SIMPLE_CHARSET = re.compile(r';\s*charset\s*=\s*"?([A-Za-z0-9_.:+-]+)"?\s*(?:;|$)', re.I)
_MSG_ID = re.compile(r"<[^<>\s]+>")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/]*=*")
_REAL_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")
_EXTENSIONS = {"message/rfc822": ".eml", "text/plain": ".txt", "application/octet-stream": ".bin"}


@lru_cache(maxsize=256)
def _codec_name(charset: str) -> str | None:
    name = charset.strip().strip("\"'").split("*", 1)[0]  # RFC 2231 may append "*lang"
    try:
        return codecs.lookup(name).name
    except Exception:  # LookupError, or ValueError for names with NULs and the like
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    # Declared charset, else utf-8, else cp1252 (what undeclared 8-bit text nearly always
    # is), else latin-1, which takes every byte.
    name = _codec_name(charset) if charset else None
    if name is not None and name not in ("utf-8", "ascii"):
        try:
            text = data.decode(name, "replace")
            if name.startswith("utf"):
                text.encode("utf-8")  # utf-7 can yield lone surrogates, unstorable anywhere
            return text
        except Exception:  # non-text codecs ("base64"), codecs refusing "replace", the above
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if name == "utf-8":
        text = data.decode("utf-8", "replace")
        # Keep the declared utf-8 only when some real multi-byte character survived;
        # otherwise the charset is a lie and the bytes are legacy 8-bit text.
        if _REAL_NON_ASCII.search(text):
            return text
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _fix8(value: str) -> str:
    # compat32 leaves 8-bit header bytes as surrogate escapes; make them real text.
    if value.isascii():
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        raw = value.encode("utf-8", "replace")
    return _decode_bytes(raw, None)


def _b64(data: bytes) -> bytes:
    # Lenient base64: keep the alphabet, drop a dangling sextet (it holds no byte), re-pad.
    core = _NOT_BASE64.sub(b"", data)
    core = core[:-1] if len(core) % 4 == 1 else core
    return binascii.a2b_base64(core + b"=" * (-len(core) % 4))


def _word_bytes(encoding: str, text: str) -> bytes | None:
    raw = text.encode("utf-8", "replace")
    if encoding in "qQ":
        return binascii.a2b_qp(raw, header=True)
    return _b64(raw) if _BASE64_TEXT.fullmatch(raw) else None


def _decode_words(value: str) -> str:
    # RFC 2047 encoded-words; undecodable ones are kept literally.
    if "=?" not in value:
        return value
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    after_word = False
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        pos = match.end()
        data = _word_bytes(match.group(2), match.group(3))
        charset = match.group(1).lower()
        # Whitespace between two encoded-words is folding, not text (RFC 2047 6.2).
        joins = after_word and (not gap or gap.isspace())
        if data is None or not joins or charset != pending_charset:
            if pending:
                out.append(_decode_bytes(bytes(pending), pending_charset))
                pending.clear()
            if not joins:
                out.append(gap)
        if data is None:
            out.append(match.group(0))
            after_word = False
            continue
        # Adjacent words in one charset are joined first: a character may span two words.
        pending += data
        pending_charset = charset
        after_word = True
    if pending:
        out.append(_decode_bytes(bytes(pending), pending_charset))
    out.append(value[pos:])
    return "".join(out)


def _unfold(value: str) -> str:
    # compat32 keeps the folds; every CR/LF left in a parsed header value is one.
    if "\n" in value or "\r" in value:
        value = value.replace("\r", "").replace("\n", "")
    return _fix8(value)


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    # getaddresses is slow; plain "a@b, Name <c@d>" lists (most mail) are split here.
    if _ADDRESS_SPECIALS.search(value):
        return None
    pairs = []
    for item in value.split(","):
        match = _SIMPLE_ADDRESS.fullmatch(item)
        if match is None:
            return None
        name, bracketed, bare = match.groups()
        pairs.append((" ".join((name or "").split()), bracketed or bare))
    return pairs


def _addresses(value: str | None) -> list[tuple[str, str]]:
    """(decoded display name, addr-spec with lowercased domain), groups flattened."""
    if not value:
        return []
    pairs = _simple_addresses(value)
    if pairs is None:
        try:  # getaddresses is superlinear on junk like "<<<<"; no real list is this long
            pairs = getaddresses([value[:_MAX_ADDRESSES]])
        except Exception:  # e.g. RecursionError on thousands of nested comments
            return []
    out = []
    for name, addr in pairs:
        local, at, domain = addr.strip().rpartition("@")
        if addr.strip():
            out.append((_decode_words(name).strip(), f"{local}@{domain.lower()}" if at else domain))
    return out


def _msg_ids(value: str | None) -> list[str]:
    ids = _MSG_ID.findall(value or "")
    if not ids and value:  # bare ids without brackets still identify the message
        ids = [f"<{token}>" for token in value.split() if "@" in token and "<" not in token]
    return ids


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:  # "-0000" means UTC with the zone unknown
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except Exception:  # ValueError/TypeError on junk, OverflowError on absurd years
        return None


def _fix_part_headers(part: Message) -> None:
    # Decode 8-bit header bytes in place, before compat32's getters turn them into U+FFFD,
    # and cut absurd Content-* values: the library parses MIME parameters in quadratic time.
    items = list(part.raw_items())
    if all(value.isascii() and len(value) <= _MAX_PARAMS for _, value in items):
        return
    for name in {name for name, _ in items}:
        del part[name]
    for name, value in items:  # re-adding in order keeps the header order
        if len(value) > _MAX_PARAMS and name.lower().startswith("content-"):
            value = value[:_MAX_PARAMS]
        part[name] = _fix8(value)


def _part_header(part: Message, name: str) -> str | None:
    value = part.get(name)
    return None if value is None else _unfold(str(value))


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)  # undoes base64/qp/uuencode, leniently
    if not isinstance(data, bytes):
        return b""
    stated = str(part.get("content-transfer-encoding", "")).lower()
    if stated != stated.strip():  # compared verbatim there, so "base64 " was left encoded
        if stated.strip() == "base64":
            return _b64(data)
        if stated.strip() == "quoted-printable":
            return binascii.a2b_qp(data)
    return data


def _embedded_bytes(part: Message) -> bytes:
    # compat32 parses message/* parts into sub-messages; serialize them back.
    inner = part.get_payload()
    if not isinstance(inner, list):
        return b""
    cte = (_part_header(part, "content-transfer-encoding") or "").strip().lower()
    subs = [sub for sub in inner if isinstance(sub, Message)]
    if cte == "base64" and len(subs) == 1 and not subs[0].keys():
        # Base64 is not allowed here (RFC 2046 5.2.1) but used; the parser then found no
        # headers and kept the encoded text as the inner body, so decode that instead.
        return _b64(str(subs[0].get_payload()).encode("ascii", "surrogateescape"))
    return b"".join(sub.as_bytes(policy=_EMBEDDED_POLICY) for sub in subs)


def _filename(part: Message) -> str | None:
    # Without "name" in either header there is no filename (or name) parameter to find, and
    # the parameter parser, the slow part here, is skipped.
    headers = f"{part.get('content-disposition', '')}{part.get('content-type', '')}"
    if "name" not in headers.lower():
        return None
    # Non-standard but common: raw UTF-8 or encoded-words inside the parameter.
    name = _CONTROL.sub("", _decode_words(_fix8(part.get_filename() or ""))).strip()
    return name or None


def _charset(part: Message) -> str | None:
    # 'text/plain; charset="utf-8"' is read with one regex; anything fancier (RFC 2231
    # continuations, several parameters named charset) goes to the parameter parser.
    value = str(part.get("content-type", ""))
    if "*" not in value and value.lower().count("charset") == 1:
        found = _SIMPLE_CHARSET.search(value)
        if found:
            return found.group(1).lower()
    return part.get_content_charset()


def _attachment(part: Message, filename: str | None, n: int) -> Attachment:
    ctype = (_part_header(part, "content-type") or "").split(";", 1)[0].strip().lower()
    if not _MIME_TYPE.fullmatch(ctype):
        guessed = mimetypes.guess_type(filename)[0] if filename else None
        ctype = guessed or "application/octet-stream"
    if part.get_content_maintype() == "message" and part.is_multipart():
        content = _embedded_bytes(part)
    else:
        content = _payload_bytes(part)
    if not filename:
        ext = _EXTENSIONS.get(ctype) or mimetypes.guess_extension(ctype) or ""
        filename = f"attachment-{n}{ext}"
    cid = (_part_header(part, "content-id") or "").strip().strip("<>").strip() or None
    disposition = part.get_content_disposition()
    inline = disposition == "inline" or (disposition is None and cid is not None)
    return Attachment(filename, ctype, content, cid, inline)


def _text(part: Message) -> str:
    text = _decode_bytes(_payload_bytes(part), _charset(part))
    return text.replace("\r\n", "\n")


def _walk(part: Message, mail: ParsedMail, depth: int) -> None:
    if depth:
        _fix_part_headers(part)  # parse_message already did the top level
    ctype = part.get_content_type()
    if ctype.startswith("multipart/") and part.is_multipart():
        if depth < _MAX_DEPTH:
            for child in part.get_payload():
                with contextlib.suppress(Exception):  # a broken part must not lose its siblings
                    _walk(child, mail, depth + 1)  # type: ignore[arg-type]
        return
    filename = _filename(part)
    if ctype.startswith("multipart/"):
        ctype = "text/plain"  # no usable boundary: the raw body is the best text there is
    body = part.get_content_disposition() != "attachment" and filename is None
    if body and ctype == "text/plain" and mail.body_text is None:
        mail.body_text = _text(part)
    elif body and ctype == "text/html" and mail.body_html is None:
        mail.body_html = _text(part)
    else:
        mail.attachments.append(_attachment(part, filename, len(mail.attachments) + 1))


def _parse(raw: bytes) -> Message:
    # The feed parser reads bodies line by line, which is half the cost of a plain message.
    # Single-part messages get their headers parsed alone and their body attached whole,
    # exactly what the parser would have stored; anything unusual takes the full path.
    end = _HEADER_END.search(raw)
    if end is not None and end.start() > 0:
        msg = _PARSER.parsebytes(raw[: end.end()])
        if msg.get_payload() == "" and msg.get_content_maintype() not in ("multipart", "message"):
            msg.set_payload(raw[end.end() :].decode("ascii", "surrogateescape"))
            return msg
    return _PARSER.parsebytes(raw)


def parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """The headers of a message as :func:`parse_message` gives them (in order, unfolded,
    encoded words decoded), reading nothing past the header block; never raises. (A line
    that is no header is skipped here, where the email parser would end the headers.)

    Split here rather than by the email parser, which costs half as much again as composing
    the message on an API send's path; the values are decoded by the same functions.
    """
    end = _HEADER_END.search(raw)
    block = bytes(raw[: end.start()] if end else raw).decode("ascii", "surrogateescape")
    pairs: list[list[str]] = []
    for line in _LINE_END.split(block):
        if line[:1] in (" ", "\t"):  # a fold continues the header above
            if pairs:
                pairs[-1][1] += line
            continue
        name, colon, value = line.partition(":")
        if colon and name and not name[-1:].isspace():
            pairs.append([name, value.lstrip(" \t")])
    headers = []
    for name, value in pairs:
        with contextlib.suppress(Exception):
            headers.append((name, _decode_words(_unfold(value)).strip()))
    return headers


def parse_message(raw: bytes) -> ParsedMail:
    """Parse a received message; never raises, whatever the bytes.

    :param raw: the message as received (RFC 5322 bytes, any line endings).
    :returns: the decoded fields; each one that cannot be read is left at its empty value.
    """
    mail = ParsedMail()
    try:
        msg = _parse(bytes(raw))
    except Exception:  # the parser is lenient, but recurses once per nested multipart
        try:
            msg = _PARSER.parsebytes(bytes(raw), headersonly=True)
        except Exception:
            return mail
    with contextlib.suppress(Exception):
        _fix_part_headers(msg)
    first: dict[str, str] = {}
    for name, value in msg.raw_items():  # raw: compat32's items() may wrap values in Header
        with contextlib.suppress(Exception):
            unfolded = _unfold(value)
            mail.headers.append((name, _decode_words(unfolded).strip()))
            first.setdefault(name.lower(), unfolded)
    get = first.get
    fields: dict[str, Callable[[], object]] = {
        "subject": lambda: _decode_words(get("subject", "")).strip(),
        "message_id": lambda: next(iter(_msg_ids(get("message-id"))), None),
        "in_reply_to": lambda: next(iter(_msg_ids(get("in-reply-to"))), None),
        "references": lambda: _msg_ids(get("references")),
        "from_name": lambda: next(iter(_addresses(get("from"))), ("", ""))[0] or None,
        "from_address": lambda: next(iter(_addresses(get("from"))), ("", ""))[1],
        "to_addresses": lambda: [addr for _, addr in _addresses(get("to"))],
        "cc_addresses": lambda: [addr for _, addr in _addresses(get("cc"))],
        "reply_to": lambda: [addr for _, addr in _addresses(get("reply-to"))],
        "date": lambda: _date(get("date")),
    }
    for attr, extract in fields.items():  # one bad header never costs the others
        with contextlib.suppress(Exception):
            setattr(mail, attr, extract())
    with contextlib.suppress(Exception):
        _walk(msg, mail, 0)
    return mail
