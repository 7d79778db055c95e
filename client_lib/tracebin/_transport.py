"""One keep-alive HTTP(S) connection to the Tracebin server (http.client: no dependencies).

The TLS context is built once per client, not per event.
"""

from __future__ import annotations

import email.utils
import encodings.idna  # noqa: F401 - socket needs it to resolve a host; importing it at exit can fail
import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from tracebin._config import Endpoint
from tracebin._version import VERSION

USER_AGENT = f"tracebin-python/{VERSION}"


@dataclass(frozen=True)
class Reply:
    status: int  # 0: the server was not reached (network error)
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait, from `Retry-After: <seconds>` or `Retry-After: <HTTP date>`."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class HttpTransport:
    def __init__(self, endpoint: Endpoint, timeout: float, tls: ssl.SSLContext | None = None) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._ssl = tls if endpoint.scheme == "https" else None
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(
                self.endpoint.host, self.endpoint.port, timeout=self.timeout, context=self._ssl
            )
        return http.client.HTTPConnection(self.endpoint.host, self.endpoint.port, timeout=self.timeout)

    def post(self, name: str, body: bytes, *, gzipped: bool) -> Reply:
        headers = {
            "Authorization": self.endpoint.authorization,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        # A kept-alive connection may have been closed by the server meanwhile: retry once on a new one.
        for attempt in (1, 2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._conn.request("POST", self.endpoint.path(name), body=body, headers=headers)
                response = self._conn.getresponse()
                response.read()
                if response.will_close:
                    self.close()
                return Reply(response.status, parse_retry_after(response.getheader("Retry-After")))
            except (OSError, http.client.HTTPException, socket.timeout):
                self.close()
                if not reused or attempt == 2:
                    return Reply(0)
        return Reply(0)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
