"""The OpenAPI 3.1 document of the consume path, served at GET /openapi.json.

It describes the native event (common.md contract 1): what clients send to POST /exceptions and,
normalised with every key present, what is stored and shown in the dashboard.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.services import event_format as fmt


def _s(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _obj(description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "additionalProperties": True}


FRAME: dict[str, Any] = {
    "type": "object",
    "description": "One stack frame. Frames are listed caller first, crashing frame last.",
    "properties": {
        "filename": _s("Path relative to the project", maxLength=fmt.MAX_PATH),
        "abs_path": _s("Absolute path", maxLength=fmt.MAX_PATH),
        "function": _s("Function name", maxLength=fmt.MAX_NAME),
        "module": _s("Module (e.g. app.views)", maxLength=fmt.MAX_NAME),
        "lineno": {"type": ["integer", "null"]},
        "colno": {"type": ["integer", "null"]},
        "context_line": _s("The source line", maxLength=fmt.MAX_LINE),
        "pre_context": {"type": "array", "items": {"type": "string"}, "maxItems": fmt.MAX_CONTEXT_LINES},
        "post_context": {"type": "array", "items": {"type": "string"}, "maxItems": fmt.MAX_CONTEXT_LINES},
        "in_app": {"type": "boolean", "description": "Part of the application (used for grouping)"},
        "vars": _obj("Local variables as repr strings (scrubbed server-side)"),
    },
}

EXCEPTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": _s("Exception class name", maxLength=fmt.MAX_NAME),
        "value": _s("Exception message", maxLength=fmt.MAX_VALUE),
        "module": _s("Module of the exception class", maxLength=fmt.MAX_NAME),
        "mechanism": {
            "type": ["object", "null"],
            "properties": {"type": {"type": "string"}, "handled": {"type": "boolean"}},
        },
        "frames": {"type": "array", "items": FRAME, "maxItems": fmt.MAX_FRAMES},
    },
}

EVENT: dict[str, Any] = {
    "type": "object",
    "description": (
        "A native Tracebin event. Either `exception` (non-empty) or `message` is required. Unknown fields are "
        f"ignored. Strings and lists past their limits are cut and marked with '{fmt.TRUNCATED}', never refused. "
        "The whole body is at most 1 MiB after decompression (Content-Encoding gzip, deflate or br accepted)."
    ),
    "properties": {
        "event_id": _s(
            "32 lowercase hex; the server makes one when absent. A repeat is stored once.", pattern="^[0-9a-f]{32}$"
        ),
        "timestamp": {
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "description": "RFC 3339 or Unix seconds; default: when received. Stored as Unix seconds.",
        },
        "level": {"type": "string", "enum": sorted(fmt.LEVELS), "default": "error"},
        "platform": _s("e.g. python", default="other"),
        "logger": _s("Logger name"),
        "message": _s("Required when there is no exception", maxLength=fmt.MAX_MESSAGE),
        "exception": {
            "type": "array",
            "description": "The chain: root cause FIRST, the raised exception LAST",
            "items": EXCEPTION,
            "maxItems": fmt.MAX_CHAIN,
        },
        "release": _s("Release / version", maxLength=fmt.MAX_RELEASE),
        "environment": _s("e.g. production", maxLength=fmt.MAX_ENVIRONMENT),
        "server_name": _s("Host or dyno", maxLength=fmt.MAX_NAME),
        "tags": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": fmt.MAX_TAGS},
        "user": {
            "type": "object",
            "properties": {k: {"type": "string"} for k in ("id", "email", "username", "ip_address")},
            "additionalProperties": True,
        },
        "request": {
            "type": "object",
            "properties": {
                "method": {"type": "string"},
                "url": {"type": "string"},
                "query_string": {"type": "string"},
                "headers": {"type": "object"},
                "cookies": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                "data": {},
                "env": {"type": "object"},
            },
            "additionalProperties": True,
        },
        "contexts": _obj("e.g. runtime, os"),
        "extra": _obj("Anything else"),
        "breadcrumbs": {
            "type": "array",
            "maxItems": fmt.MAX_BREADCRUMBS,
            "items": {
                "type": "object",
                "properties": {
                    "timestamp": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                    "type": {"type": "string", "default": "default"},
                    "category": {"type": "string"},
                    "level": {"type": "string", "default": "info"},
                    "message": {"type": "string"},
                    "data": {"type": "object"},
                },
            },
        },
        "fingerprint": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Overrides grouping; '{{ default }}' stands for the default fingerprint",
        },
        "sdk": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {"message": {"type": "string"}, "field": {"type": "string"}},
    "required": ["message"],
}


def _reply(description: str, retry_after: bool = False) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry_after:
        reply["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return reply


_ERRORS = {
    "400": _reply("Malformed: not JSON, wrong type, no exception and no message (`field` names the culprit)"),
    "401": _reply("Missing, unknown or revoked API key"),
    "413": _reply("Larger than 1 MiB (on the wire or decompressed)"),
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Tracebin consume API",
        "version": "1",
        "description": (
            "Report exceptions to Tracebin. Authenticate with the API key of TRACEBIN_URL "
            "(https://<key>@host/<project>) as the HTTP Basic-auth user name; the password is empty."
        ),
    },
    "components": {
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "basic"}},
        "schemas": {"Event": EVENT, "Error": ERROR},
    },
    "security": [{"apiKey": []}],
    "paths": {
        "/exceptions": {
            "post": {
                "summary": "Report one event",
                "description": (
                    "Answers 202 only after the event is committed to the database. Past the monthly quota the "
                    "first event of a new issue and one event per issue per hour are still stored; others get 429."
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Event"}}},
                },
                "responses": {
                    "202": {
                        "description": "Stored (or already stored: a repeated event_id is acknowledged again)",
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string"}}}}
                        },
                    },
                    **_ERRORS,
                    "429": _reply("Monthly quota used up", retry_after=True),
                    "503": _reply("Too busy or a transient failure; retry after Retry-After", retry_after=True),
                },
            }
        },
        "/client-reports": {
            "post": {
                "summary": "Report events the client dropped",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "discarded_events": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "reason": {"type": "string", "maxLength": 64},
                                                "quantity": {"type": "integer", "minimum": 0},
                                            },
                                            "required": ["reason", "quantity"],
                                        },
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {"202": {"description": "Counted"}, **_ERRORS},
            }
        },
        "/ping": {
            "post": {
                "summary": "A bare JSON endpoint (no auth, no database): the benchmark baseline",
                "security": [],
                "responses": {"200": {"description": '{"ok": true}'}},
            }
        },
    },
}

DOCUMENT_JSON: bytes = orjson.dumps(DOCUMENT)
