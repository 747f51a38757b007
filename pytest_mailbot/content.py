"""Reading what a message says: its links and its one-time code."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_URL = re.compile(r"""https?://[^\s<>"'`]+""")
_TRAILING = ".,;:!?)]}'\""
_CODE_WORDS = re.compile(
    r"\b(code|otp|pin|passcode|password|verification|verify|one[- ]time|token|confirm\w*)\b",
    re.IGNORECASE,
)
# A run of digits, optionally split once by a space or dash ("123 456", "123-456").
_CANDIDATE = re.compile(r"(?<![\w+])(\d{3,4}[ -]\d{3,4}|\d{4,10})(?!\w)")
# Phone-like: "+" prefix, or 7+ digits with separators, e.g. "+1 (555) 123-4567", "555-123-4567".
_PHONE = re.compile(r"\+?\(?\d{1,4}\)?(?:[ .-]\(?\d{1,4}\)?){2,}\d")
_DATE = re.compile(
    r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b"  # 2026-11-25, 25/11/2026, 25.11.2026
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"  # 12:30, 12:30:05
)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or None
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def anchors(html: str) -> list[tuple[str, str]]:
    """``(href, visible text)`` of every link in ``html``, in document order."""
    parser = _Anchors()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # a test helper must not crash on odd HTML; keep what was found
        pass
    return parser.links


def text_urls(text: str) -> list[str]:
    """URLs written out in plain text."""
    return [match.group(0).rstrip(_TRAILING) for match in _URL.finditer(text)]


def find_code(text: str, length: int | None = None) -> str | None:
    """The one-time code in ``text``: digits (4-10, or two groups like ``123 456``), ignoring
    dates, times, years and phone-like numbers, preferring one close after a word such as
    "code" or "verification". Returns the digits without separators, or None."""
    excluded = [m.span() for m in _PHONE.finditer(text) if _is_phone(m.group(0))]
    excluded += [m.span() for m in _DATE.finditer(text)]
    candidates: list[tuple[int, str]] = []
    for match in _CANDIDATE.finditer(text):
        start, end = match.span()
        if any(s <= start < e or s < end <= e for s, e in excluded):
            continue
        digits = re.sub(r"\D", "", match.group(0))
        if length is not None and len(digits) != length:
            continue
        if len(digits) == 4 and 1900 <= int(digits) <= 2100 and length is None:
            continue  # a year
        candidates.append((start, digits))
    if not candidates:
        return None
    keywords = [m.end() for m in _CODE_WORDS.finditer(text)]
    for start, digits in candidates:
        if any(0 <= start - k <= 60 for k in keywords):
            return digits
    return candidates[0][1]


def _is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    return text.startswith(("+", "(")) or digits >= 7
