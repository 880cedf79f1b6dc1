"""`fetch_url`: download a web page (size- and time-capped) and turn HTML into readable text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlparse

import httpx

from .base import ToolContext, ToolResult
from .output import truncate

TIMEOUT = 20.0
MAX_BYTES = 2 * 1024 * 1024
MAX_TEXT = 40_000
SKIP = {"script", "style", "noscript", "template", "svg", "head", "nav", "footer", "iframe"}
BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "br",
    "tr",
    "table",
    "ul",
    "ol",
    "pre",
    "blockquote",
    "header",
    "aside",
    "form",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
}


class _TextExtractor(HTMLParser):
    """HTML → plain text: headings as `#`, list items as `-`, links as `text (url)`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.href: str | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in SKIP:
            self.skipping += 1
        elif tag in BLOCKS:
            self.out.append("\n")
            if tag[0] == "h" and tag[1:].isdigit():
                self.out.append("#" * int(tag[1:]) + " ")
            elif tag == "li":
                self.out.append("- ")
        elif tag == "a":
            self.href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCKS:
            self.out.append("\n")
        elif tag == "a" and self.href:
            if self.href.startswith(("http://", "https://")):
                self.out.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self.skipping:
            self.out.append(data)

    def text(self) -> str:
        joined = "".join(self.out)
        joined = re.sub(r"[ \t\r\f\v]+", " ", joined)
        joined = re.sub(r" *\n *", "\n", joined)
        return re.sub(r"\n{3,}", "\n\n", joined).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML page, its title first."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    body = parser.text()
    title = parser.title.strip()
    return f"# {title}\n\n{body}" if title and not body.startswith(f"# {title}") else body


class FetchUrlTool:
    """`fetch_url {url}`."""

    name = "fetch_url"
    description = (
        "Fetch an http(s) URL and return its content as text; HTML pages are converted to "
        "readable text. Pages over 2 MB or slower than 20 seconds fail."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"url": {"type": "string", "description": "An http:// or https:// URL."}},
        "required": ["url"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Download and convert."""
        url = args["url"].strip()
        if urlparse(url).scheme not in ("http", "https"):
            return ToolResult("Only http:// and https:// URLs can be fetched.", is_error=True)
        try:
            async with (
                httpx.AsyncClient(follow_redirects=True, max_redirects=5, timeout=TIMEOUT) as http,
                http.stream("GET", url, headers={"User-Agent": "Hestia/1 (fetch_url)"}) as resp,
            ):
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        return ToolResult(f"{url} is larger than 2 MB; not fetched.", True)
                status = resp.status_code
                kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                encoding = resp.encoding or "utf-8"
        except httpx.TooManyRedirects:
            return ToolResult(f"{url} redirects too many times.", is_error=True)
        except httpx.TimeoutException:
            return ToolResult(f"{url} did not answer within {TIMEOUT:g} seconds.", is_error=True)
        except httpx.HTTPError as exc:
            return ToolResult(f"Could not fetch {url}: {exc}.", is_error=True)
        if kind and not (
            kind.startswith("text/")
            or kind in _TEXT_TYPES
            or kind.endswith("+json")
            or kind.endswith("+xml")
        ):
            return ToolResult(f"{url} is {kind}, not text.", is_error=True)
        text = bytes(body).decode(encoding, errors="replace")
        if kind in ("text/html", "application/xhtml+xml") or (not kind and "<html" in text[:500]):
            text = html_to_text(text)
        header = f"[{status} {url}]\n" if status >= 400 else ""
        return ToolResult(header + truncate(text, MAX_TEXT), is_error=status >= 400)


_TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/xhtml+xml",
    "application/x-yaml",
    "application/yaml",
}
