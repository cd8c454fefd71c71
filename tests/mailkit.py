"""Mail for the tests: a corpus of real-world message shapes, a real SMTP server on loopback
(aiosmtpd) and a real IMAP server (Debian's Dovecot) started for the test and stopped after."""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from tests.support import free_port, port_open

# A real 1x1 PNG: attachment checks read the content, not the name.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DESK = "helpdesk@localhost"


# ---------------------------------------------------------------- the corpus


def _base(sender: str, subject: str, *, to: str = DESK, message_id: str | None = None, **headers: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    name, _, address = sender.rpartition(" <")
    msg["From"] = Address(display_name=name, addr_spec=address.rstrip(">")) if address else sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="mail.example.org")
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    return msg


def plain(sender: str, subject: str, body: str, **headers: str) -> bytes:
    msg = _base(sender, subject, **headers)
    msg.set_content(body)
    return msg.as_bytes()


def alternative(sender: str, subject: str, text: str, html: str, **headers: str) -> bytes:
    msg = _base(sender, subject, **headers)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def html_only(sender: str, subject: str, html: str, **headers: str) -> bytes:
    msg = _base(sender, subject, **headers)
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


def latin1(sender: str, subject: str, body: str) -> bytes:
    """An old client: ISO-8859-1 body, quoted-printable, RFC 2047 encoded subject."""
    encoded_subject = (
        "=?iso-8859-1?q?"
        + "".join(f"={b:02X}" if b > 127 or chr(b) in "=?_ " else chr(b) for b in subject.encode("latin-1")).replace(
            "=20", "_"
        )
        + "?="
    )
    body_qp = "".join(f"={b:02X}" if b > 127 or chr(b) == "=" else chr(b) for b in body.encode("latin-1"))
    return (
        f"From: {sender}\r\nTo: {DESK}\r\nSubject: {encoded_subject}\r\n"
        f"Message-ID: {make_msgid(domain='old.example.org')}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{body_qp}\r\n"
    ).encode("ascii")


def with_attachments(sender: str, subject: str, body: str, files: list[tuple[str, bytes, str]]) -> bytes:
    msg = _base(sender, subject)
    msg.set_content(body)
    for name, content, mime in files:
        maintype, subtype = mime.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def inline_image(sender: str, subject: str) -> bytes:
    msg = _base(sender, subject)
    msg.set_content("See the screenshot.")
    msg.add_alternative('<p>See the screenshot:</p><img src="cid:shot1@example.org" alt="screen">', subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(PNG, maintype="image", subtype="png", cid="<shot1@example.org>", filename="screen.png")
    return msg.as_bytes()


def forwarded(sender: str, subject: str, inner: bytes) -> bytes:
    msg = _base(sender, subject)
    msg.set_content("FYI, see the message below.")
    msg.add_attachment(message_from_bytes(inner, policy=policy.default))
    return msg.as_bytes()


def gmail_reply(sender: str, subject: str, new: str, quoted: str, **headers: str) -> bytes:
    text = f"{new}\n\nOn Tue, 3 Mar 2026 at 10:15, Help Desk <{DESK}> wrote:\n" + "".join(
        f"> {line}\n" for line in quoted.splitlines()
    )
    html = (
        f'<div dir="ltr">{new}</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        f"On Tue, 3 Mar 2026 at 10:15, Help Desk wrote:<br></div><blockquote>{quoted}</blockquote></div>"
    )
    return alternative(sender, subject, text, html, **headers)


def outlook_reply(sender: str, subject: str, new: str, quoted: str, **headers: str) -> bytes:
    text = f"{new}\r\n\r\n________________________________\r\nFrom: Help Desk <{DESK}>\r\nSent: Tuesday, March 3, 2026 10:15 AM\r\nSubject: {subject}\r\n\r\n{quoted}\r\n"
    html = (
        f'<html><body><div>{new}</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        f'<div id="divRplyFwdMsg"><b>From:</b> Help Desk<br><b>Sent:</b> Tuesday</div><div>{quoted}</div></body></html>'
    )
    return alternative(sender, subject, text, html, **headers)


def auto_reply(sender: str, subject: str, **headers: str) -> bytes:
    return plain(
        sender,
        f"Automatic reply: {subject}",
        "I am out of the office until Monday.",
        Auto_Submitted="auto-replied",
        **headers,
    )


def bounce(original: bytes) -> bytes:
    """A delivery status notification (RFC 3464) quoting the original's headers."""
    headers = original.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("ascii", "replace")
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        f"To: {DESK}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.org')}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--b1--\r\n"
    ).encode()


def reply_to(received: bytes, sender: str, body: str) -> bytes:
    """A person's answer to a message the help desk sent them: their client threads it."""
    original = message_from_bytes(received, policy=policy.default)
    mid = str(original["Message-ID"])
    refs = f"{original.get('References', '')} {mid}".strip()
    return plain(sender, f"Re: {original['Subject']}", body, In_Reply_To=mid, References=refs)


# ---------------------------------------------------------------- SMTP sink


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpSink:
    """A real SMTP server in this process: what the help desk sends arrives here."""

    port: int
    received: list[Received] = field(default_factory=list)
    # Answer RCPT/DATA with this code (451 temporary, 550 permanent) while set.
    fail_with: int | None = None
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.fail_with:
            return f"{self.fail_with} Try again later" if self.fail_with < 500 else f"{self.fail_with} No such user"
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


@contextlib.contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    import logging

    from aiosmtpd.controller import Controller

    # aiosmtpd logs every SMTP command at INFO: thousands of lines in a fault test.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# ---------------------------------------------------------------- Dovecot


@dataclass
class Dovecot:
    port: int
    root: Path
    users: dict[str, str]

    def client(self, user: str):  # type: ignore[no-untyped-def]
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, self.users[user])
        return client

    def deliver(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client(user)
        try:
            for raw in messages:
                client.append(folder, raw)
        finally:
            client.logout()

    def count(self, user: str, folder: str = "INBOX", criteria: str = "ALL") -> int:
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                return 0
            client.select_folder(folder, readonly=True)
            return len(client.search(criteria))
        finally:
            client.logout()


DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = {uid}
last_valid_uid = {uid}
default_internal_user = {internal}
default_login_user = {internal}
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


def dovecot_available() -> bool:
    return shutil.which("dovecot") is not None and os.geteuid() == 0


@contextlib.contextmanager
def dovecot_server(users: dict[str, str]) -> Iterator[Dovecot]:
    """Dovecot on a free loopback port with its own configuration, users and mail folder;
    mail is owned by the unprivileged `mail` user. Stopped (and its folder removed) after."""
    mail_user = pwd.getpwnam("mail")
    internal = "dovenull" if _user_exists("dovenull") else "mail"
    root = Path(tempfile.mkdtemp(prefix="hd-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    os.chown(root / "state", mail_user.pw_uid, mail_user.pw_gid)
    lines = [
        f"{name}:{{PLAIN}}{password}:{mail_user.pw_uid}:{mail_user.pw_gid}::{root}/mail/{name}::"
        for name, password in users.items()
    ]
    (root / "passwd").write_text("\n".join(lines) + "\n")
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(root=root, port=port, uid=mail_user.pw_uid, internal=internal))
    process = subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                output = process.stdout.read().decode() if process.stdout and process.poll() is not None else ""
                raise RuntimeError(f"Dovecot did not start: {output}\n{log}")
            time.sleep(0.1)
        yield Dovecot(port=port, root=root, users=users)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
