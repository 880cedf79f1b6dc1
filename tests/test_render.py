"""The markdown renderer: what models write renders well, and nothing in it can run."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from hestia.core.render import pygments_css, render_markdown, sanitize

SAFE_SCHEMES = ("http:", "https:", "mailto:")


class Elements(HTMLParser):
    """Every element of an HTML fragment as (tag, attributes)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](vbscript:msgbox(1))",
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        '<iframe src="https://example.com"></iframe>',
        '<div onclick="alert(1)">hi</div>',
        "<svg><script>alert(1)</script></svg>",
        '<style>body{display:none}</style><p style="color:red">x</p>',
        "```\n</code></pre><script>alert(1)</script>\n```",
        "```html\n<script>alert(1)</script>\n```",
        '```python" onmouseover="alert(1)\nx\n```',
        "`<script>alert(1)</script>`",
        "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    ],
)
def test_nothing_executable_survives(source):
    for tag, attrs in Elements(render_markdown(source)).found:
        assert tag not in ("script", "iframe", "style", "svg", "object", "embed", "form")
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "style" not in attrs
        for name in ("href", "src"):
            url = (attrs.get(name) or "").strip().lower()
            assert not url or url.startswith(SAFE_SCHEMES) or ":" not in url.split("/")[0], url


def test_raw_html_is_shown_as_text():
    assert render_markdown("a <b>bold</b> claim") == "<p>a &lt;b&gt;bold&lt;/b&gt; claim</p>\n"


def test_markdown_renders():
    html = render_markdown("# Title\n\n**bold** _it_ ~~gone~~ `code`\n\n- a\n- b\n\n> quote\n")
    for fragment in (
        "<h1>Title</h1>",
        "<strong>bold</strong>",
        "<em>it</em>",
        "<s>gone</s>",
        "<code>code</code>",
        "<li>a</li>",
        "<blockquote>",
    ):
        assert fragment in html


def test_tables_and_links():
    html = render_markdown("| a | b |\n|---|:-:|\n| 1 | 2 |\n\nsee https://example.com/x")
    assert "<table>" in html and "<th>a</th>" in html and "<td>1</td>" in html
    assert (
        '<a href="https://example.com/x" target="_blank" rel="noopener noreferrer nofollow">'
        in html
    )


def test_code_is_highlighted_with_classes():
    html = render_markdown("```python\ndef f():\n    return 1\n```")
    assert '<div class="code-block"><pre class="highlight" data-lang="python"><code>' in html
    assert '<span class="k">def</span>' in html
    assert "style" not in html


def test_unknown_language_and_plain_blocks_are_escaped_text():
    html = render_markdown("```nosuchlang\n<b>x</b>\n```\n\n    indented <i>")
    assert 'data-lang="nosuchlang"' in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "indented &lt;i&gt;" in html


def test_app_classes_cannot_be_borrowed():
    # Spans keep only Pygments token classes; nothing else may carry a class.
    html = render_markdown("```python\nx = 1\n```")
    assert 'class="highlight"' in html
    elements = Elements(render_markdown("<span class='toast'>x</span> *y*")).found
    assert all("class" not in attrs for _, attrs in elements)


def test_highlight_css_has_light_and_dark_token_rules():
    css = pygments_css()
    assert ".highlight .k {" in css
    assert "[data-theme=dark] .highlight .k {" in css
    assert "pre {" not in css.split(".highlight")[0]


def test_sanitize_is_the_last_word_even_for_raw_html():
    html = sanitize(
        '<a href="javascript:x" onclick="y">t</a><script>z</script><span class="toast">s</span>'
    )
    assert (
        html == '<a target="_blank" rel="noopener noreferrer nofollow">t</a><span class="">s</span>'
    )
