"""Security headers on every response; the Content-Security-Policy on HTML pages.

Scripts may come only from us and from Heroku's Boomerang path (the nav header of SSO sessions);
no inline script runs, so an event field that slipped through escaping still could not execute.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BOOMERANG_SCRIPT = "https://s3.amazonaws.com/assets.heroku.com/boomerang/boomerang.js"
BOOMERANG_PATH = "https://s3.amazonaws.com/assets.heroku.com/boomerang/"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' {BOOMERANG_PATH}",
        f"style-src 'self' {BOOMERANG_PATH}",
        "img-src 'self' data: https:",
        "font-src 'self' https:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
HTML_ONLY = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
}


class SecurityHeadersMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): adds headers to the response start message only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in HTML_ONLY.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
