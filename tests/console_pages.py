"""Reading the console's pages in tests: a browser-less visitor with a cookie jar, and the
elements of a page by their ``data-testid`` (parsed with the standard library)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import requests

VOID = {"meta", "link", "input", "br", "img", "hr", "source", "wbr", "area", "col", "embed"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    parts: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """Every element of an HTML page, with its attributes and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            element = self._open.pop()
            element.text = " ".join("".join(element.parts).split())
            if element.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    def by_testid(self, testid: str) -> list[Element]:
        return [e for e in self.elements if e.attrs.get("data-testid") == testid]

    def one(self, testid: str) -> Element:
        found = self.by_testid(testid)
        assert len(found) == 1, f"{len(found)} elements with data-testid={testid!r}"
        return found[0]

    def texts(self, testid: str) -> list[str]:
        return [e.text for e in self.by_testid(testid)]

    def csrf(self) -> str:
        return next(e.attrs["value"] for e in self.elements if e.attrs.get("name") == "csrf_token")


class Visitor:
    """A person at the console: one cookie jar, following redirects as a browser does."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.base_url + path, **kwargs)

    def page(self, path: str) -> Page:
        response = self.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return Page(response.text)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.base_url + path, data=data, **kwargs)

    def submit(self, page_path: str, action: str, data: dict[str, str]) -> requests.Response:
        """Post a form of ``page_path`` with the CSRF token that page carries."""
        token = self.page(page_path).csrf()
        return self.post(action, {"csrf_token": token, **data})

    def sign_in(self, key: str) -> requests.Response:
        return self.submit("/sign-in", "/sign-in", {"api_key": key, "next": "/"})

    def close(self) -> None:
        self.session.close()
