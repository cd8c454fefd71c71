"""A small HTTP client for timing pages on loopback, as an agent's browser would fetch them.

One new connection per request (gunicorn's sync workers close it after each response, as
behind a proxy), cookies kept like a browser's, and the time measured from sending the
request to the last byte of the body: the server's time plus loopback.
"""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    @property
    def queries(self) -> int | None:
        value = self.headers.get("x-bench-queries")
        return int(value) if value is not None else None

    @property
    def db_ms(self) -> float | None:
        value = self.headers.get("x-bench-db-ms")
        return float(value) if value is not None else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Client:
    base: str  # http://127.0.0.1:PORT
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("The benchmark talks to loopback only.")
        self.host = parts.hostname
        self.port = parts.port or 80

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        sent = {"Host": f"{self.host}:{self.port}", "Accept-Encoding": "identity", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=sent)
            answer = conn.getresponse()
            data = answer.read()
            seconds = time.perf_counter() - started
        finally:
            conn.close()
        received = {k.lower(): v for k, v in answer.getheaders()}
        for value in answer.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(status=answer.status, body=data, headers=received, seconds=seconds)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> Response:
        return self.request(
            "POST",
            path,
            body=urlencode(data).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )

    def sign_in(self, path: str, username: str, password: str) -> Response:
        """A Django sign-in form: fetch it for the CSRF token, post the credentials."""
        page = self.get(path)
        token = CSRF_FIELD.search(page.text)
        answer = self.post_form(
            path,
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""},
            headers={"Referer": f"{self.base}{path}", "Origin": self.base},
        )
        if answer.status != 302:
            raise RuntimeError(f"sign-in at {path} answered {answer.status}, not a redirect")
        return answer
