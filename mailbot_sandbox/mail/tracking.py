"""Open and click tracking in outgoing HTML: links point at the sandbox, a pixel is added.

The HTML is read with the standard library's parser and changed only where it must be:
each ``<a href="http(s)://…">`` start tag is rewritten, the pixel goes before ``</body>``
(or at the end), and every other byte stays as the sender wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from html.parser import HTMLParser

TRACKED_SCHEMES = ("http://", "https://")


class _Links(HTMLParser):
    """Finds where the start tags of tracked links and the closing body tag are."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self._line_starts.append(index + 1)
        self.links: list[tuple[int, int, list[tuple[str, str | None]]]] = []
        self.body_end: int | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href")
        if href and href.strip().lower().startswith(TRACKED_SCHEMES):
            text = self.get_starttag_text() or ""
            start = self._offset()
            self.links.append((start, start + len(text), attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self._offset()


def add_tracking(html: str, *, pixel_url: str | None, link_url: Callable[[str], str] | None) -> str:
    """``html`` with each http(s) link sent through ``link_url(original)`` (when given) and
    an invisible image of ``pixel_url`` (when given)."""
    found = _Links(html)
    found.feed(html)
    found.close()
    edits: list[tuple[int, int, str]] = []
    if link_url is not None:
        for start, end, attrs in found.links:
            edits.append((start, end, _start_tag(attrs, link_url)))
    if pixel_url is not None:
        pixel = (
            f'<img src="{escape(pixel_url)}" width="1" height="1" alt="" '
            'style="display:none;border:0" />'
        )
        at = len(html) if found.body_end is None else found.body_end
        edits.append((at, at, pixel))
    out, done = [], 0
    for start, end, text in sorted(edits, key=lambda edit: edit[0]):
        out += [html[done:start], text]
        done = end
    out.append(html[done:])
    return "".join(out)


def _start_tag(attrs: list[tuple[str, str | None]], link_url: Callable[[str], str]) -> str:
    parts = ["<a"]
    for name, value in attrs:
        if name == "href" and value is not None:
            value = link_url(value.strip())
        parts.append(f" {name}" if value is None else f' {name}="{escape(value)}"')
    return "".join(parts) + ">"
