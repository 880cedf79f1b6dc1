"""`fetch_url`: download a web page (size- and time-capped) and turn HTML into readable text.

HTML goes through a compact converter on the standard library's `HTMLParser` rather than a
dependency: the well-known converter (html2text) is GPL, and the job here is small — drop
scripts, styles and navigation, keep headings, paragraphs, lists, tables, code and links.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlparse

from .base import ToolContext, ToolResult
from .files import looks_binary
from .output import truncate

if TYPE_CHECKING:  # imported by the first fetch: the server starts without the HTTP client
    import httpx

TIMEOUT = 20.0
MAX_REDIRECTS = 5
MAX_BYTES = 2 * 1024 * 1024
MAX_TEXT = 40_000
USER_AGENT = "Hestia/1 (fetch_url)"

# Elements whose whole content is dropped: code, styling and page chrome, not the text.
_SKIP = {
    "title",  # shown once, as the first heading
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "head",
    "nav",
    "footer",
    "button",
    "select",
    "dialog",
}
# Elements that start a paragraph (a blank line around them).
_PARAGRAPHS = {"p", "blockquote", "table", "pre", "figure", "dl", "address", "details"}
# Elements that start a new line.
_LINES = {
    "div",
    "section",
    "article",
    "main",
    "header",
    "aside",
    "form",
    "fieldset",
    "tr",
    "dt",
    "dd",
    "figcaption",
    "summary",
    "caption",
    "li",
    "ul",
    "ol",
}
# What may stand in <head>; anything else means the head ended without `</head>`.
_HEAD_CONTENT = {"title", "meta", "link", "style", "script", "base", "noscript", "template"}
_TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/ecmascript",
    "application/xhtml+xml",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/x-sh",
    "application/sql",
    "application/graphql",
    "application/x-ndjson",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


class _HtmlToText(HTMLParser):
    """HTML → text: `#` headings, `-`/`1.` list items, `|` table cells, ``` code blocks,
    and links as `text (url)` with relative URLs made absolute."""

    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.title = ""
        self._out: list[str] = []
        self._skipping: list[str] = []
        self._in_title = False
        self._pre = 0
        self._lists: list[list[Any]] = []  # [tag, next number]
        self._first_cell = True
        self._link: tuple[str | None, int] | None = None

    # -- output helpers ------------------------------------------------------------------------

    def _tail(self) -> str:
        return "".join(self._out[-4:])

    def _break(self, newlines: int) -> None:
        """End the current line (and leave `newlines - 1` blank lines) unless already done."""
        have = len(self._tail()) - len(self._tail().rstrip("\n"))
        if self._out and have < newlines:
            self._out.append("\n" * (newlines - have))

    def _at_line_start(self) -> bool:
        return not self._out or self._tail().endswith("\n")

    # -- parser callbacks ----------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and "svg" not in self._skipping:
            self._in_title = True
        if self._skipping == ["head"] and (tag == "body" or tag not in _HEAD_CONTENT):
            self._skipping.clear()  # `</head>` may be left out: the body has begun
        if self._skipping:
            if tag == self._skipping[-1] or tag in _SKIP:
                self._skipping.append(tag)
            return
        if tag in _SKIP:
            self._skipping.append(tag)
            return
        attributes = dict(attrs)
        if tag == "base" and attributes.get("href"):
            self.base_url = urljoin(self.base_url, attributes["href"] or "")
        elif tag[0] == "h" and tag[1:].isdigit() and 1 <= int(tag[1:]) <= 6:
            self._break(2)
            self._out.append("#" * int(tag[1:]) + " ")
        elif tag == "pre":
            self._break(2)
            self._out.append("```\n")
            self._pre += 1
        elif tag == "code" and not self._pre:
            self._out.append("`")
        elif tag == "br":
            self._out.append("\n")
        elif tag == "hr":
            self._break(2)
            self._out.append("---\n")
        elif tag in ("ul", "ol"):
            self._break(1 if self._lists else 2)
            self._lists.append([tag, 1])
        elif tag == "li":
            self._break(1)
            indent = "  " * max(len(self._lists) - 1, 0)
            if self._lists and self._lists[-1][0] == "ol":
                self._out.append(f"{indent}{self._lists[-1][1]}. ")
                self._lists[-1][1] += 1
            else:
                self._out.append(f"{indent}- ")
        elif tag == "tr":
            self._break(1)
            self._first_cell = True
        elif tag in ("td", "th"):
            if not self._first_cell:
                self._out.append(" | ")
            self._first_cell = False
        elif tag == "a":
            self._link = (attributes.get("href"), len(self._out))
        elif tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/>, <img/>: no content and no end tag to wait for.
        self.handle_starttag(tag, attrs)
        if tag in ("a", "code", "title") or tag in _SKIP:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag[0] == "h" and tag[1:].isdigit():
            self._break(2)
        elif tag == "pre" and self._pre:
            self._pre -= 1
            self._break(1)
            self._out.append("```\n\n")
        elif tag == "code" and not self._pre:
            self._out.append("`")
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
            self._break(1 if self._lists else 2)
        elif tag == "a" and self._link is not None:
            self._end_link()
        elif tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skipping:
            return
        if self._pre:
            self._out.append(data)
            return
        text = re.sub(r"\s+", " ", data)
        if self._at_line_start():
            text = text.lstrip()
        if text:
            self._out.append(text)

    def _end_link(self) -> None:
        assert self._link is not None
        href, start = self._link
        self._link = None
        if not href or href.startswith(("#", "javascript:")):
            return
        url = urljoin(self.base_url, href.strip())
        if urlparse(url).scheme not in ("http", "https", "mailto"):
            return
        label = "".join(self._out[start:]).strip()
        if label and label != url:
            self._out.append(f" ({url})")

    def text(self) -> str:
        lines: list[str] = []
        fenced = False
        for line in "".join(self._out).split("\n"):
            if line.startswith("```"):
                fenced = not fenced
            if not fenced:
                line = re.sub(r"(?<=\S) {2,}", " ", line).rstrip()  # keep list indents
            lines.append(line)
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str, base_url: str = "") -> str:
    """Readable text of an HTML page, its title first."""
    parser = _HtmlToText(base_url)
    parser.feed(html)
    parser.close()
    body = parser.text()
    title = re.sub(r"\s+", " ", parser.title).strip()
    if title and not body.startswith(f"# {title}"):
        return f"# {title}\n\n{body}".rstrip()
    return body


class FetchUrlTool:
    """`fetch_url {url}`."""

    name = "fetch_url"
    description = (
        "Fetch an http:// or https:// URL and return its content as text. HTML pages are "
        "converted to readable text (headings as #, list items as -, links as `text (url)`); "
        "JSON, XML and other text come back as they are. Binary content (images, PDFs, "
        "archives) is refused; download it with the shell instead. Redirects are followed (up "
        "to 5); pages over 2 MB or slower than 20 seconds fail; text over 40,000 characters is "
        "shortened in the middle."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"url": {"type": "string", "description": "An http:// or https:// URL."}},
        "required": ["url"],
        "additionalProperties": False,
    }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Download (streamed, capped) and convert."""
        import httpx

        url = str(args.get("url", "")).strip()
        parsed = urlparse(url)
        if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
            return ToolResult(
                "Only http:// and https:// URLs with a host name can be fetched.", True
            )
        try:
            async with asyncio.timeout(TIMEOUT):
                fetched = await _download(url)
        except TimeoutError:
            return ToolResult(f"{url} did not answer within {TIMEOUT:g} seconds.", is_error=True)
        except httpx.TooManyRedirects:
            return ToolResult(f"{url} redirects more than {MAX_REDIRECTS} times.", True)
        except httpx.UnsupportedProtocol as exc:
            return ToolResult(f"Could not fetch {url}: {exc}.", is_error=True)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            detail = str(exc) or type(exc).__name__
            return ToolResult(f"Could not fetch {url}: {detail}.", is_error=True)
        if isinstance(fetched, ToolResult):
            return fetched
        return _render(url, *fetched)


async def _download(url: str) -> ToolResult | tuple[httpx.Response, bytes]:
    """The response and its body, or an error result when it is too large."""
    import httpx

    async with (
        httpx.AsyncClient(
            follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=TIMEOUT
        ) as http,
        http.stream(
            "GET", url, headers={"User-Agent": USER_AGENT, "Accept": "text/html, text/*;q=0.9"}
        ) as response,
    ):
        too_large = ToolResult(f"{url} is larger than 2 MB; it was not fetched.", True)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BYTES:
            return too_large
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                return too_large
        return response, bytes(body)


def _render(url: str, response: httpx.Response, body: bytes) -> ToolResult:
    """The body as text for the model, or an error result for binary content."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    is_text = (
        kind.startswith("text/")
        or kind in _TEXT_TYPES
        or kind.endswith(("+json", "+xml"))
        or (not kind and not looks_binary(body[:8192]))
    )
    if not is_text:
        return ToolResult(
            f"{url} is {kind or 'binary data'}, not text; fetch_url only returns text "
            "(download it with the shell to work with it).",
            is_error=True,
        )
    text = body.decode(_charset(response, body), errors="replace")
    final = str(response.url)
    if kind in ("text/html", "application/xhtml+xml") or (
        not kind and "<html" in text[:1000].lower()
    ):
        text = html_to_text(text, final)
    text = truncate(text, MAX_TEXT)
    notes = []
    if response.status_code >= 400:
        notes.append(f"[HTTP {response.status_code} {response.reason_phrase}]".replace(" ]", "]"))
    if final != url:
        notes.append(f"[redirected to {final}]")
    output = "\n".join([*notes, text]) if notes else text
    return ToolResult(output or "(empty response)", is_error=response.status_code >= 400)


def _charset(response: httpx.Response, body: bytes) -> str:
    """The declared charset (header, then an HTML <meta>), if Python knows it; else UTF-8."""
    candidates = [response.charset_encoding]
    match = _META_CHARSET.search(body[:2048])
    if match:
        candidates.append(match.group(1).decode("ascii", errors="ignore"))
    for name in candidates:
        if name:
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return "utf-8"
