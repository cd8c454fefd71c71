"""Rendering mail from its three templates: emails/<name>.subject.txt, .txt and .html."""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string

from tickets.sanitize import single_line


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def email_render(name: str, context: dict[str, object]) -> RenderedEmail:
    subject = render_to_string(f"emails/{name}.subject.txt", context)
    return RenderedEmail(
        # A subject is one line, whatever a user put in the ticket's summary or their name.
        subject=single_line(subject, 998),
        text=render_to_string(f"emails/{name}.txt", context),
        html=render_to_string(f"emails/{name}.html", context),
    )
