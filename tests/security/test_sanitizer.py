"""The HTML sanitiser (tickets.sanitize.clean_html), which every stored rich body passes through:
its output is stable when cleaned again, and never carries markup a browser would run or
that would fetch from another origin."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tickets.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, clean_html

# Pieces an attacker strings together: dangerous tags, handlers, URL schemes in every disguise,
# comments, CDATA, broken quoting, entities and control characters.
TAGS = [
    "script", "style", "img", "svg", "math", "iframe", "object", "embed", "a", "form", "input", "button",
    "textarea", "title", "noscript", "template", "base", "meta", "link", "table", "td", "p", "div", "b",
    "select", "option", "xmp", "plaintext", "noembed", "video", "audio", "source", "details", "marquee",
]  # fmt: skip
ATTRIBUTES = [
    "href", "src", "onerror", "onload", "onclick", "style", "srcdoc", "formaction", "xlink:href", "action",
    "title", "alt", "width", "colspan", "rel", "target", "id", "class", "data-x", "background", "poster",
]  # fmt: skip
VALUES = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", " javascript:alert(1)",
    "&#106;avascript:alert(1)", "&#x6A;avascript:alert(1)", "jav&#x09;ascript:alert(1)", "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>", "data:image/svg+xml;base64,PHN2Zz4=", "//evil.example/x.png",
    "/\\evil.example/x.png", "/\t/evil.example/x.png", "\\\\evil.example/x", "https://evil.example/x.png",
    "cid:part1@example", "/attachments/1/", "mailto:karen@example.com", "x\" onerror=\"alert(1)",
    "alert(1)", "expression(alert(1))", "",
]  # fmt: skip
TEXT = [
    "<", ">", "&", "\"", "'", "`", "=", "/", "<!--", "-->", "<![CDATA[", "]]>", "<!", "<?", "?>", "</",
    "&lt;", "&amp;", "&#60;", "&#x3c;", "\x00", "\u2028", "\ufeff", "\u202e", " ", "\n", "Hello", "{{ 7 }}",
]  # fmt: skip


@st.composite
def element(draw: st.DrawFn) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ATTRIBUTES),
                st.sampled_from(VALUES),
                st.sampled_from(['"', "'", "", "`"]),
            ),
            max_size=3,
        )
    )
    rendered = "".join(f" {name}={quote}{value}{quote}" for name, value, quote in attrs)
    closing = draw(st.sampled_from(["", f"</{tag}>", "/>", f"</{tag}"]))
    inner = draw(st.sampled_from(TEXT))
    return f"<{tag}{rendered}>{inner}{closing}"


fragments = st.lists(st.one_of(element(), st.sampled_from(TEXT), st.text(max_size=8)), max_size=12).map("".join)

SCRIPT_CAPABLE_TAGS = {
    "script", "style", "iframe", "frame", "object", "embed", "svg", "math", "form", "input", "button", "base",
    "meta", "link", "template", "textarea", "select", "video", "audio", "source", "noscript", "xmp",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src"}
CONTROL = re.compile(r"[\x00-\x20]")


class Markup(HTMLParser):
    """Every start tag and attribute the browser would see (values already unescaped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _problems(html: str) -> list[str]:
    parser = Markup()
    parser.feed(html)
    parser.close()
    problems = []
    for tag, attrs in parser.tags:
        if tag in SCRIPT_CAPABLE_TAGS or tag not in ALLOWED_TAGS:
            problems.append(f"tag <{tag}>")
        for name, value in attrs:
            # lang and title are allowed on every tag (plain text, read by no script).
            allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | {"lang", "title"} | ({"rel"} if tag == "a" else set())
            if name.startswith("on") or name not in allowed:
                problems.append(f"attribute {name} on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                # Browsers drop tabs and newlines inside URLs and whitespace around them.
                url = CONTROL.sub("", value).lower()
                if url.startswith(("javascript:", "vbscript:", "data:")):
                    problems.append(f"{name}={value!r} on <{tag}>")
                if tag == "img" and not (url.startswith("cid:") or re.match(r"^/[^/\\]", url)):
                    problems.append(f"remote image {value!r}")
    return problems


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragments)
@example('<img src="//evil.example/pixel.png">')
@example('<img src="/\\evil.example/pixel.png">')
@example('<img src="/\t/evil.example/pixel.png">')
@example('<a href="jav&#x09;ascript:alert(1)">x</a>')
@example("<svg><style><img src=x onerror=alert(1)></style></svg>")
@example('<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;img src=1 onerror=alert(1)&gt;">')
@example('<noscript><p title="</noscript><img src=x onerror=alert(1)>">')
@example('<a href="https://example.com" rel="opener">x</a>')
@example("<p><object><table>")  # once serialised as a table inside a paragraph, which reparses differently
@example("<script></script>\ufeffHello")  # a byte-order mark left at the start
def test_cleaning_is_idempotent_and_leaves_nothing_that_runs(raw: str) -> None:
    cleaned = clean_html(raw)
    assert clean_html(cleaned) == cleaned
    assert _problems(cleaned) == []


def test_a_message_keeps_its_formatting_and_links() -> None:
    raw = (
        '<p>Hello <b>Jane</b>, see <a href="https://bank.example/status">the status page</a>.</p>'
        '<img src="cid:logo@mail" alt="logo"><table><tr><td colspan="2">x</td></tr></table>'
    )
    cleaned = clean_html(raw)
    assert "<b>Jane</b>" in cleaned
    assert 'href="https://bank.example/status"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned
    assert 'src="cid:logo@mail"' in cleaned
    assert '<td colspan="2">' in cleaned


def test_an_image_from_another_site_is_dropped_in_every_spelling() -> None:
    for src in ("https://evil.example/p.png", "//evil.example/p.png", "/\\evil.example/p.png", "/\t/evil.example/p"):
        cleaned = clean_html(f'<p>hi<img src="{src}" alt="pixel"></p>')
        assert "evil.example" not in cleaned, src
    assert 'src="/attachments/7/"' in clean_html('<img src="/attachments/7/">')
