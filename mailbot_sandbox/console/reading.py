"""Reading a message for a person: the links it holds, as the message page lists them, and
its HTML with the images it carries inline."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import unquote

# A URL in plain text runs to the first space or closing bracket; trailing punctuation of
# the sentence around it is not part of it.
_TEXT_URL = re.compile(r"https?://[^\s<>\"')\]]+")
MAX_LINKS = 200


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self._open, self._text = href.strip(), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.links.append((self._open, " ".join("".join(self._text).split())))
            self._open = None


def links_in(html: str | None, text: str | None) -> list[tuple[str, str]]:
    """``(url, label)`` of every link of the HTML part (else of URLs in the text part), in
    order, each URL once; at most :data:`MAX_LINKS`."""
    found: list[tuple[str, str]] = []
    if html:
        collector = _LinkCollector()
        collector.feed(html)
        collector.close()
        found = collector.links
    elif text:
        found = [(match.rstrip(".,;:!?"), "") for match in _TEXT_URL.findall(text)]
    seen: set[str] = set()
    unique = []
    for url, label in found:
        if url not in seen:
            seen.add(url)
            unique.append((url, label))
    return unique[:MAX_LINKS]


# ``src="cid:logo@x"`` (and url(cid:...) in styles): the part of this message with that
# Content-ID. Only images are inlined, and only up to this many bytes in all.
_CID = re.compile(r"\bcid:([^\"'()\s>]+)", re.IGNORECASE)
MAX_INLINE_BYTES = 10 * 1024 * 1024


def with_inline_images(html: str, parts: Iterable[tuple[str, str, bytes]]) -> str:
    """``html`` with each ``cid:`` reference to one of ``parts`` (``(content_id,
    content_type, content)``) turned into a ``data:`` URL, so the frame shows the images the
    mail carries without fetching anything; a reference to anything else stays as it is."""
    images: dict[str, str] = {}
    budget = MAX_INLINE_BYTES
    for content_id, content_type, content in parts:
        if content_type.lower().startswith("image/") and len(content) <= budget:
            budget -= len(content)
            encoded = base64.b64encode(content).decode("ascii")
            images[content_id.lower()] = f"data:{content_type.lower()};base64,{encoded}"
    if not images:
        return html
    return _CID.sub(lambda found: images.get(unquote(found.group(1)).lower(), found.group(0)), html)
