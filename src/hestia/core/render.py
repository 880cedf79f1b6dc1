"""Markdown to safe HTML: markdown-it-py, Pygments classes for code, nh3 as the last word.

One renderer serves the live view while a message streams, the final view and exports, so
what a person sees is always the same sanitised HTML. Raw HTML in markdown is shown as text
(markdown-it's `html` is off) and nh3 then removes anything not on the allow-list, so neither a
model nor a pasted message can put a script, an event handler or a `javascript:` link on the
page. Highlighting uses CSS classes, never inline styles (the CSP forbids them).

The three libraries are imported by the first render, not with this module: a server that has
not rendered anything (only `POST /api/render`, `?render=true` and the highlight stylesheet do)
does not pay their memory and start-up time.
"""

from __future__ import annotations

import html as html_lib
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

TAGS = {
    "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "img", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul", "input",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "pre": {"data-lang"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
    "input": {"type", "checked", "disabled"},
}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_HIGHLIGHT_CHARS = 200_000


@lru_cache(maxsize=1)
def _allowed_classes() -> dict[str, set[str]]:
    """The classes kept per tag: on spans only Pygments' own token classes, so text cannot
    borrow the app's classes."""
    from pygments.token import STANDARD_TYPES

    return {
        "span": {c for c in STANDARD_TYPES.values() if c},
        "div": {"code-block"},
        "pre": {"highlight"},
    }


@lru_cache(maxsize=1)
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def _fence(renderer, tokens, idx, options, env) -> str:  # markdown-it's rule signature
    token = tokens[idx]
    lang = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    return _code_block(token.content, lang)


def _indented(renderer, tokens, idx, options, env) -> str:
    return _code_block(tokens[idx].content, "")


def _code_block(code: str, lang: str) -> str:
    body = html_lib.escape(code)
    if lang and len(code) <= MAX_HIGHLIGHT_CHARS:
        from pygments import highlight
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound

        try:
            lexer = get_lexer_by_name(lang, stripnl=False, ensurenl=False)
        except ClassNotFound:
            lexer = None
        if lexer is not None:
            body = highlight(code, lexer, _formatter())
    label = f' data-lang="{html_lib.escape(lang[:40], quote=True)}"' if lang else ""
    pre = f'<pre class="highlight"{label}><code>{body}</code></pre>'
    return f'<div class="code-block">{pre}</div>\n'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _indented)
    return md


def sanitize(html: str) -> str:
    """Keep only the allow-listed tags, attributes, classes and URL schemes."""
    import nh3

    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        allowed_classes=_allowed_classes(),
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Markdown text as sanitised HTML (safe to put into the page as it is)."""
    return sanitize(_markdown().render(text))


def pygments_css() -> str:
    """Stylesheet rules for the highlight classes, light by default and dark on request."""
    from pygments.formatters import HtmlFormatter

    rules = []
    themes = (("default", ".highlight"), ("github-dark", "[data-theme=dark] .highlight"))
    for style, prefix in themes:
        defs = HtmlFormatter(style=style).get_style_defs(prefix)
        # Keep only the token rules; the page's own stylesheet lays out <pre> and backgrounds.
        rules += [
            line
            for line in defs.splitlines()
            if line.startswith(prefix + " .") and "background-color" not in line.split("{")[0]
        ]
    return "\n".join(rules) + "\n"
