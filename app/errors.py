"""The service's one exception tree. Services raise these; app.main maps them to HTTP."""

from __future__ import annotations


class TracebinError(Exception):
    """Root of every error the service raises on purpose."""

    status_code = 500
    headers: dict[str, str] | None = None

    def __init__(self, message: str, *, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if headers is not None:
            self.headers = headers


class ConfigError(TracebinError):
    """A setting is missing or unsafe; the server refuses to start."""


class BadRequest(TracebinError):
    """Malformed input (not JSON, wrong type); the reply names the field when it can."""

    status_code = 400


class Unauthorized(TracebinError):
    status_code = 401


class Forbidden(TracebinError):
    status_code = 403


class NotFound(TracebinError):
    status_code = 404


class Conflict(TracebinError):
    status_code = 409


class PayloadTooLarge(TracebinError):
    status_code = 413


class Unprocessable(TracebinError):
    """Well-formed but impossible to serve (unknown plan, missing required field)."""

    status_code = 422


class RateLimited(TracebinError):
    """Too many requests: carries the seconds after which a retry makes sense."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int, headers: dict[str, str] | None = None):
        merged = {"Retry-After": str(retry_after), **(headers or {})}
        super().__init__(message, headers=merged)
        self.retry_after = retry_after


class Unavailable(TracebinError):
    """Temporarily unable to serve (ingest queue full, batch failed); safe to retry."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 1):
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after
