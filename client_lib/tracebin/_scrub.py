"""Client-side scrubbing: the same rules as the server's app/services/scrubbing.py.

The client cannot import the server, so the rules are copied here; a test compares both on the
same inputs. KEY rules: a mapping entry whose key contains a denied word (lower-case, `-` and
spaces read as `_`) has its whole value replaced, however deep. VALUE rules: secret-shaped
substrings of any string are replaced where they occur.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Union

FILTERED = "[Filtered]"

DENIED_KEY_PARTS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "authorization",
    "auth_token",
    "cookie",
    "session",
    "csrf",
    "xsrf",
    "credit_card",
    "creditcard",
    "card_number",
    "cardnumber",
    "cc_number",
    "cvv",
    "cvc",
    "ssn",
)
DENIED_KEYS: frozenset[str] = frozenset({"auth", "pwd", "pass", "pin", "x_api_key"})


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    # Part of a longer run of digits (an id, a phone number with a prefix): not a card.
    if (start and text[start - 1] in _RUN_CHARS) or (end < len(text) and text[end] in _RUN_CHARS):
        return match.group(0)
    digits = match.group(0).replace(" ", "").replace("-", "")
    return FILTERED if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


_RUN_CHARS = frozenset("0123456789-")

Replacement = Union[str, Callable[["re.Match[str]"], str]]

# (name, hints, pattern, replacement), applied in order to every string. A rule runs only when ALL
# its hints occur in the text, so the common case (no secret at all) stays cheap.
VALUE_RULES: tuple[tuple[str, tuple[str, ...], re.Pattern[str], Replacement], ...] = (
    ("bearer token", ("earer",), re.compile(r"\b([Bb]earer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + FILTERED),
    ("bearer token", ("EARER",), re.compile(r"\b(BEARER)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + FILTERED),
    ("jwt", ("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"), FILTERED),
    ("url password", ("://", "@"), re.compile(r"(://[^:/@\s]*:)[^@/\s]+@"), r"\1" + FILTERED + "@"),
    ("card number", (), re.compile(r"[0-9](?:[ -]?[0-9]){12,18}"), _card),
)

# The first hint of every hinted rule, and the one rule without hints (card numbers): string()'s
# fast path spells these out (a test keeps them in step with VALUE_RULES).
QUICK_HINTS = ("earer", "EARER", "eyJ", "://")
_CARD_PATTERN = VALUE_RULES[-1][2]

MAX_DEPTH = 20


class Scrubber:
    """The server's rules plus the keys a customer adds with the `scrub_keys` option."""

    def __init__(self, extra_keys: tuple[str, ...] = ()) -> None:
        self.key_parts = DENIED_KEY_PARTS + tuple(key.lower().replace("-", "_") for key in extra_keys)
        self._known: dict[str, bool] = {}

    def is_denied_key(self, key: str) -> bool:
        denied = self._known.get(key)
        if denied is None:
            normalised = key.lower().replace("-", "_").replace(" ", "_")
            denied = normalised in DENIED_KEYS or any(part in normalised for part in self.key_parts)
            if len(self._known) < 10_000:
                self._known[key] = denied
        return denied

    def string(self, text: str) -> str:
        if "earer" not in text and "EARER" not in text and "eyJ" not in text and "://" not in text:
            # Only the card rule can apply (the common case: most strings hold no secret at all).
            if len(text) < 13 or _CARD_PATTERN.search(text) is None:
                return text
        for _name, hints, pattern, replacement in VALUE_RULES:
            if all(hint in text for hint in hints):
                text = pattern.sub(replacement, text)
        return text

    def value(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                return FILTERED
            return {
                key: (FILTERED if isinstance(key, str) and self.is_denied_key(key) else self.value(item, depth + 1))
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            if depth >= MAX_DEPTH:
                return FILTERED
            return [self._pair(item, depth + 1) for item in value]
        return value

    def _pair(self, item: Any, depth: int) -> Any:
        # Headers and query strings often arrive as [name, value] pairs: the name is a key.
        if (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and isinstance(item[0], str)
            and self.is_denied_key(item[0])
        ):
            return [item[0], FILTERED]
        return self.value(item, depth)

    def query_string(self, query: str) -> str:
        parts = []
        for pair in query.split("&"):
            name, sep, _value = pair.partition("=")
            parts.append(f"{name}={FILTERED}" if sep and self.is_denied_key(name) else self.string(pair))
        return "&".join(parts)

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Scrub a client event in place (keys may be missing: it is not normalised yet)."""
        for name in ("extra", "contexts", "user", "tags"):
            if event.get(name):
                event[name] = self.value(event[name])
        if isinstance(event.get("message"), str):
            event["message"] = self.string(event["message"])
        request = event.get("request")
        if isinstance(request, dict) and request:
            request = dict(request)  # the scope's dict is shared by other events
            cookies = request.get("cookies")
            if isinstance(cookies, str) and cookies:
                request["cookies"] = FILTERED
            query = request.get("query_string")
            if isinstance(query, str) and query:
                request["query_string"] = self.query_string(query)
            event["request"] = self.value(request)
        for exc in event.get("exception") or ():
            if isinstance(exc.get("value"), str):
                exc["value"] = self.string(exc["value"])
            for frame in exc.get("frames") or ():
                if frame.get("vars"):
                    frame["vars"] = self.value(frame["vars"])
                if isinstance(frame.get("context_line"), str):
                    frame["context_line"] = self.string(frame["context_line"])
                for name in ("pre_context", "post_context"):
                    lines = frame.get(name)
                    if lines:
                        frame[name] = [self.string(line) if isinstance(line, str) else line for line in lines]
        if event.get("breadcrumbs"):
            event["breadcrumbs"] = [self._crumb(crumb) for crumb in event["breadcrumbs"]]
        return event

    def _crumb(self, crumb: dict[str, Any]) -> dict[str, Any]:
        crumb = dict(crumb)  # breadcrumbs are shared with the scope and other events
        if isinstance(crumb.get("message"), str):
            crumb["message"] = self.string(crumb["message"])
        if crumb.get("data"):
            crumb["data"] = self.value(crumb["data"])
        return crumb
