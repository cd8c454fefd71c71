"""The email parser under hypothesis, run as its own process by test_mail_fuzz.py, which bounds
its CPU time and memory with setrlimit: a message that makes the parser loop or balloon kills
this process, and the test says so.

Three families, each with a bounded number of examples (FUZZ_EXAMPLES, default 200):
- bytes: anything at all;
- built: messages assembled from hostile header values and MIME structures (broken encodings,
  unknown charsets, nested and unterminated multiparts, CR/LF and NUL in headers, long lines);
- mutated: the test corpus (tests/mailkit.py) with bytes flipped, inserted, cut and repeated.

For every example, mail_parse returns a ParsedMail that keeps its promises (one-line subject and
names, a sender address, bounded Message-IDs) or raises MailParseError, the clean rejection;
and the quoted-history trimmers finish on whatever it read. Any other exception, or an example
slower than the deadline, fails the run. Prints one line of counts per family.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("TESTING", "true")
django.setup()

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from inbound.parse import MailParseError, ParsedMail, html_trim_quoted, mail_parse, text_trim_quoted  # noqa: E402
from tests import mailkit  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
RUN = settings(
    max_examples=EXAMPLES,
    deadline=2000,  # ms per example: a parse that takes longer is a finding
    derandomize=SEED == 0,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
outcomes: dict[str, Counter[str]] = {}


def check(raw: bytes, family: str) -> None:
    try:
        parsed = mail_parse(raw)
    except MailParseError:
        outcomes.setdefault(family, Counter())["rejected"] += 1
        return
    assert isinstance(parsed, ParsedMail)
    for line in (parsed.subject, parsed.from_name):
        assert "\n" not in line and "\r" not in line, line
    assert len(parsed.subject) <= 255 and len(parsed.from_name) <= 128
    assert "@" in parsed.from_address and len(parsed.from_address) <= 254
    assert parsed.message_id.startswith("<") and len(parsed.message_id) <= 255
    for mid in parsed.referenced_ids:
        assert mid.startswith("<") and mid.endswith(">") and len(mid) <= 255
    text_trim_quoted(parsed.text)
    html_trim_quoted(parsed.html)
    for upload in parsed.uploads:
        assert isinstance(upload.content, bytes) and isinstance(upload.filename, str)
    outcomes.setdefault(family, Counter())["auto" if parsed.auto_reason else "read"] += 1


# ---------------------------------------------------------------- strategies

HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "Auto-Submitted",
    "Precedence",
    "Return-Path",
    "List-Id",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Content-ID",
    "MIME-Version",
]
NASTY = [
    "=?utf-8?b?SGVsbG8=?=",
    "=?utf-8?b?####?=",
    "=?x-unknown?q?caf=E9?=",
    "=?utf-8?q?=00=0D=0ABcc:_x@evil.example?=",
    '"A, B" <a@b.example>, <c@d.example>',
    "<<<<>>>>",
    "<a@b> <c@d> " * 30,
    "\r\n\tcontinued",
    "\x00\x01\x7f",
    "multipart/mixed; boundary=",
    'multipart/mixed; boundary="b"',
    "multipart/alternative; boundary=b; boundary=c",
    "text/plain; charset=x-made-up",
    "text/html; charset=utf-7",
    "message/rfc822",
    "base64",
    "quoted-printable",
    "x-uuencode",
    "attachment; filename*=utf-8''..%2F..%2Fetc%2Fpasswd",
    'attachment; filename="\u202egnp.exe"',
    "auto-replied",
    "A" * 2000,
    "mailer-daemon@example.org",
    "[#12345678] Re: Re: Fwd:",
]
header_value = st.one_of(
    st.sampled_from(NASTY), st.text(max_size=200), st.text(alphabet="<>@\"',;:=?\r\n \t", max_size=60)
)
header = st.tuples(st.sampled_from(HEADER_NAMES), header_value)
body_chunk = st.one_of(
    st.sampled_from(
        [
            b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
            b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi<script>x</script>\r\n",
            b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n",
            b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\nbody\r\n",
            b"--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n",
            b"--b--\r\n",
            b"=\r\n=XX=3D\r\n",
        ]
    ),
    st.binary(max_size=300),
)


@st.composite
def built_message(draw: st.DrawFn) -> bytes:
    lines = [f"{name}: {value}" for name, value in draw(st.lists(header, max_size=14))]
    if draw(st.booleans()):
        lines.insert(0, f"From: {draw(st.sampled_from(['karen@example.com', 'Karen <karen@example.com>', 'x@y']))}")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    body = b"".join(draw(st.lists(body_chunk, max_size=8)))
    return head + b"\r\n\r\n" + body


KAREN = "Karen Doe <karen@example.com>"
CORPUS = [
    mailkit.plain(KAREN, "Printer is jammed", "It blinks red."),
    mailkit.alternative(KAREN, "Both", "text", "<p>html</p>"),
    mailkit.html_only(KAREN, "HTML", "<p>only <b>html</b></p>"),
    mailkit.latin1(KAREN, "Café crème", "Ça ne marche pas."),
    mailkit.with_attachments(
        KAREN, "Files", "see files", [("a.png", mailkit.PNG, "image/png"), ("b.pdf", mailkit.PDF, "application/pdf")]
    ),
    mailkit.inline_image(KAREN, "Inline"),
    mailkit.forwarded(KAREN, "Fwd", mailkit.plain("x@example.org", "inner", "inner body")),
    mailkit.gmail_reply(KAREN, "Re: [#12345678]", "new words", "old words"),
    mailkit.outlook_reply(KAREN, "RE: x", "new", "old"),
    mailkit.bounce(mailkit.plain(KAREN, "gone", "x")),
]


@st.composite
def mutated_message(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 12))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut", "repeat"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.sampled_from([b"\r\n", b"\x00", b"--", b"=?", b"?=", b"<", b">", b":", b"\r\n\r\n"]))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "cut":
            del data[at:]
        else:
            data[at:at] = bytes(data[at : at + 50]) * draw(st.integers(2, 40))
    return bytes(data)


@RUN
@given(st.one_of(st.binary(max_size=4096), st.binary(max_size=4096).map(lambda b: b"From: a@b.example\r\n" + b)))
def fuzz_bytes(raw: bytes) -> None:
    check(raw, "bytes")


@RUN
@given(built_message())
def fuzz_built(raw: bytes) -> None:
    check(raw, "built")


@RUN
@given(mutated_message())
def fuzz_mutated(raw: bytes) -> None:
    check(raw, "mutated")


if __name__ == "__main__":
    for run in (fuzz_bytes, fuzz_built, fuzz_mutated):
        run()
    for family, counts in outcomes.items():
        print(f"{family}: {sum(counts.values())} examples, " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
