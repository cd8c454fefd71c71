"""Turning what users write into what is safe to show.

HTML from mail, the API and rich-text editors is cleaned by an allowlist (nh3, the Ammonia
sanitiser): no scripts, no event handlers, no styles, no remote images (the server never
fetches a URL a user gave, and the reader's browser is not made to either).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import html2text
import nh3
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    from tickets.models import ThreadEntry

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}
# Images only from the message itself (cid: parts, rewritten to attachment URLs on display).
URL_SCHEMES = {"http", "https", "mailto", "cid"}
CID_SRC = re.compile(r'src="cid:([^"]+)"')


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not value.startswith(("cid:", "/")):
        return None
    return value


def clean_html(value: str) -> str:
    """Sanitised HTML: safe to mark as safe in a template. Idempotent."""
    return nh3.clean(
        value,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_filter_attribute,
        strip_comments=True,
    )


def html_to_text(value: str) -> str:
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_images = True
    converter.ignore_emphasis = True
    return converter.handle(value).strip()


def text_to_html(value: str) -> str:
    """Plain text as HTML: escaped, with its line breaks kept."""
    paragraphs = [p for p in value.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs if p.strip())


def single_line(value: str, limit: int = 255) -> str:
    """A subject or name: no line breaks (no header injection), no control characters."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(cleaned.split())[:limit]


def entry_html(entry: ThreadEntry, attachment_url: Callable[[int], str]) -> SafeString:
    """An entry as shown in a thread: its stored HTML with each inline (cid:) image pointed at
    its attachment through `attachment_url(pk)`, or its text with line breaks.

    The HTML was cleaned when it was stored; only the cid references change here. A cid with
    no attachment of that Content-ID loses its src rather than pointing anywhere else."""
    if not entry.body_html:
        return SafeString(linebreaks(entry.body, autoescape=True))  # nosec B703 (linebreaks escapes the text)
    by_cid = {a.content_id.strip("<>"): a.pk for a in entry.attachments.all() if a.content_id}

    def inline(match: re.Match[str]) -> str:
        pk = by_cid.get(match.group(1))
        return f'src="{html.escape(attachment_url(pk))}"' if pk else 'src=""'

    return mark_safe(CID_SRC.sub(inline, entry.body_html))  # noqa: S308  # nosec B308, B703 (sanitised when stored; only the cid references change)
