"""Pure ASGI middleware: the upload size limit, enforced while the body streams in,
and access (the token, when one is set, and each browser's session cookie)."""

from __future__ import annotations

import json
import re
import secrets

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "restore_session"
TOKEN_COOKIE = "restore_token"
UPLOAD_PATH = "/api/jobs"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


async def send_error(
    send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer ``{"error": message}`` with ``status``."""
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """The request body passed the limit."""


class UploadLimit:
    """Refuses an upload (POST /api/jobs) over ``max_bytes`` with 413: at once for a
    Content-Length over the limit, else as soon as the bytes received pass it,
    without reading the rest."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != UPLOAD_PATH:
            await self.app(scope, receive, send)
            return
        message = f"the upload is larger than the limit of {self.max_bytes / (1 << 20):g} MB"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await send_error(send, 413, message, [(b"connection", b"close")])
            return
        received = 0
        started = False

        async def counting() -> Message:
            nonlocal received
            item = await receive()
            if item["type"] == "http.request":
                received += len(item.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return item

        async def watching(item: Message) -> None:
            nonlocal started
            started = started or item["type"] == "http.response.start"
            await send(item)

        try:
            await self.app(scope, counting, watching)
        except _TooLarge:
            if started:
                raise
            await send_error(send, 413, message, [(b"connection", b"close")])


class Access:
    """Gives every browser a session cookie (``scope["state"]["session"]``) and, when
    ``token`` is set, refuses ``/api`` and ``/stats`` without it (401). The token
    comes as ``Authorization: Bearer``, or as the cookie that ``/?token=`` sets."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        # Starlette's lenient parser: a browser sends this host's cookies of every port,
        # and one that SimpleCookie cannot read would make it drop all the others.
        cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
        path: str = scope["path"]
        guarded = path.startswith("/api/") or path == "/stats"
        if self.token and guarded and not self.allowed(headers, cookies):
            await send_error(send, 401, "a token is needed: open /?token=TOKEN once")
            return
        session = cookies.get(SESSION_COOKIE, "")
        fresh = not _SESSION.match(session)
        if fresh:
            session = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["session"] = session

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff")]
                if fresh:
                    cookie = f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
                    extra.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, sending)

    def allowed(self, headers: dict[bytes, bytes], cookies: dict[str, str]) -> bool:
        """Whether the request carries the token (compared in constant time)."""
        assert self.token is not None
        expected = self.token.encode()
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer" and secrets.compare_digest(given.strip(), expected):
            return True
        cookie = cookies.get(TOKEN_COOKIE, "").encode("utf-8", "replace")
        return secrets.compare_digest(cookie, expected)
