"""Text derived from mail: the visible text of HTML, and the subjects threading and replies use."""

from __future__ import annotations

import re
from html import unescape

_SPACES = re.compile(r"\s+")
_THREAD_PREFIX = re.compile(r"^\s*(?:re|fwd?|aw)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*re\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_TAG_START = re.compile(r"<(/?)([a-zA-Z][^\s/>]*)|<[!?/]")
_RAW_TEXT_TAGS = {"script", "style", "title", "template"}
# Tags that separate words; inline ones (<b>W</b>orld) must not split them.
_BREAK_TAG = re.compile(
    r"address|article|aside|blockquote|br|d[dlt]|div|fig\w*|footer|form|h[1-6r]|header|img|li"
    r"|main|nav|ol|option|p|pre|section|t[dhr]|table|ul"
)


def html_to_text(html: str) -> str:
    """The visible text of an HTML document, for search indexing; never raises.

    :param html: an HTML document or fragment, however broken.
    :returns: its text with entities unescaped, script/style dropped, whitespace collapsed.
    """
    # A hand-rolled scan, not html.parser: that one is quadratic on unclosed tags (a few
    # thousand "<a " take seconds). Here every find() starts past the last one: linear work.
    out: list[str] = []
    pos, end = 0, len(html)
    while pos < end:
        lt = html.find("<", pos)
        if lt < 0:
            out.append(html[pos:])
            break
        out.append(html[pos:lt])
        if html.startswith("<!--", lt):
            close = html.find("-->", lt + 4)
            pos = end if close < 0 else close + 3
            continue
        tag = _TAG_START.match(html, lt)
        if tag is None:  # "a < b" is text
            out.append("<")
            pos = lt + 1
            continue
        gt = html.find(">", tag.end())
        if gt < 0:  # an unclosed tag swallows the rest, as in browsers
            break
        pos = gt + 1
        name = (tag.group(2) or "").lower()  # None for <!DOCTYPE>, <?xml?>, </ >
        if name in _RAW_TEXT_TAGS and not tag.group(1):
            skip = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE).search(html, pos)
            pos = end if skip is None else skip.end()
        elif _BREAK_TAG.fullmatch(name):
            out.append(" ")  # "<p>a</p><p>b</p>" must not index as "ab"
    return _SPACES.sub(" ", unescape("".join(out))).strip()


def normalize_subject(subject: str) -> str:
    """The threading key of a subject.

    :param subject: a decoded subject line.
    :returns: it without leading Re:/Fwd:/Fw:/Aw: prefixes, whitespace collapsed, casefolded.
    """
    while match := _THREAD_PREFIX.match(subject):
        subject = subject[match.end() :]
    return _SPACES.sub(" ", subject).strip().casefold()


def reply_subject(subject: str) -> str:
    """The subject of a reply.

    :param subject: the subject replied to.
    :returns: it with exactly one leading ``Re: `` (other prefixes such as Fwd: are kept).
    """
    while match := _REPLY_PREFIX.match(subject):
        subject = subject[match.end() :]
    return "Re: " + subject.strip()
