"""Headers on every response that stop data from ever running as code in the page.

The page inserts every name it gets from the API as text (`textContent`), never as HTML; the
Content-Security-Policy makes a spot that is missed harmless too: scripts only from this
server's own files (no inline script, no eval, no other origin), no plugins, no framing.
`nosniff` stops a browser from guessing that a response is something executable.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every HTTP response (pages, files, API, errors)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
