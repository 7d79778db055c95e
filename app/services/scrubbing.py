"""Server-side scrubbing: secrets never reach the database.

Pure and self-contained (the standard library and app.memo's one helper) so the client library can
mirror the same rules.
Two kinds of rule:

- KEY rules: a mapping entry whose key contains a denied word (compared lower-case, with `-` and
  spaces read as `_`) has its whole value replaced by FILTERED, however deep it is nested.
- VALUE rules: secrets recognised by their shape inside any string (also in messages and
  exception values) are replaced where they occur; the text around them is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.memo import remember

FILTERED = "[Filtered]"

# Substrings of a key that mark its value as secret.
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
# Whole keys that are secret but too short to match as substrings safely ("auth" is inside "author").
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

# (name, hints, pattern, replacement), applied in order to every string value and message. A rule
# runs only when ALL its hints occur in the text: plain substring tests keep the common case (no
# secret at all) cheap, and the patterns start with a literal or a digit so the regex engine can
# skip ahead (no look-behind, no IGNORECASE prefix: those made each string cost microseconds).
VALUE_RULES: tuple[tuple[str, tuple[str, ...], re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    ("bearer token", ("earer",), re.compile(r"\b([Bb]earer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + FILTERED),
    ("bearer token", ("EARER",), re.compile(r"\b(BEARER)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + FILTERED),
    ("jwt", ("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"), FILTERED),
    ("url password", ("://", "@"), re.compile(r"(://[^:/@\s]*:)[^@/\s]+@"), r"\1" + FILTERED + "@"),
    ("card number", (), re.compile(r"[0-9](?:[ -]?[0-9]){12,18}"), _card),
)

MAX_DEPTH = 20
_DENIED_PATTERN = re.compile("|".join(re.escape(part) for part in DENIED_KEY_PARTS))


# is_denied_key's answers by key. Keys repeat across events (header and variable names), so
# normalising an event looks here first: a dict lookup costs less than a call. Keys are names, not
# secrets. Bounded (cleared when full).
KNOWN_KEYS: dict[str, bool] = {}
MAX_KNOWN_KEYS = 4096


def is_denied_key(key: str) -> bool:
    known = KNOWN_KEYS.get(key)
    if known is None:
        normalised = key.lower().replace("-", "_").replace(" ", "_")
        known = normalised in DENIED_KEYS or _DENIED_PATTERN.search(normalised) is not None
        remember(KNOWN_KEYS, key, known, MAX_KNOWN_KEYS)
    return known


# The first hint of every hinted rule, and the one rule without hints (card numbers): scrub_string's
# fast path spells these out (a test keeps them in step with VALUE_RULES).
QUICK_HINTS = ("earer", "EARER", "eyJ", "://")
_CARD_PATTERN = VALUE_RULES[-1][2]


# Strings already found to hold no secret: scrub_string returns them as they are. Events repeat
# them (source lines, header values, URLs, the messages of one exception): a set lookup is cheaper
# than the hint tests and the card search, and normalising an event looks here before it calls
# scrub_string. Only clean strings are kept, so no secret stays in memory; bounded (cleared when full,
# never replaced: other modules hold it).
KNOWN_CLEAN: set[str] = set()
MAX_CLEAN = 8192
MAX_CLEAN_LENGTH = 256


def scrub_string(text: str) -> str:
    """`text` with every value-rule match replaced."""
    if text in KNOWN_CLEAN:
        return text
    if "earer" not in text and "EARER" not in text and "eyJ" not in text and "://" not in text:
        # Only the card rule can apply (the common case: most strings hold no secret at all).
        if len(text) < 13 or _CARD_PATTERN.search(text) is None:
            _remember_clean(text)
            return text
    scrubbed = text
    for _name, hints, pattern, replacement in VALUE_RULES:
        for hint in hints:
            if hint not in scrubbed:
                break
        else:
            scrubbed = pattern.sub(replacement, scrubbed)
    if scrubbed == text:  # every rule ran and found nothing (a URL without a password, say)
        _remember_clean(text)
    return scrubbed


def _remember_clean(text: str) -> None:
    if len(text) <= MAX_CLEAN_LENGTH:
        if len(KNOWN_CLEAN) >= MAX_CLEAN:
            KNOWN_CLEAN.clear()
        KNOWN_CLEAN.add(text)


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of `value` with denied keys filtered and secret-shaped strings replaced, recursively."""
    if isinstance(value, str):
        return scrub_string(value)
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return FILTERED
        return {
            key: (FILTERED if isinstance(key, str) and is_denied_key(key) else scrub(item, depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            return FILTERED
        return [_scrub_pair(item, depth + 1) for item in value]
    return value


def _scrub_pair(item: Any, depth: int) -> Any:
    # Headers and query strings often arrive as [name, value] pairs: treat the name as a key.
    if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str) and is_denied_key(item[0]):
        return [item[0], FILTERED]
    return scrub(item, depth)


def scrub_query_string(query: str) -> str:
    """`a=1&password=x` → `a=1&password=[Filtered]`; other values get the value rules."""
    parts = []
    for pair in query.split("&"):
        name, sep, _value = pair.partition("=")
        parts.append(f"{name}={FILTERED}" if sep and is_denied_key(name) else scrub_string(pair))
    return "&".join(parts)


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    """Scrub a native event in place (and return it).

    Free-form parts (request, user, contexts, extra, tags, frame vars, breadcrumb data) get both
    kinds of rule; messages, exception values and source lines (context_line, pre_context and
    post_context) get the value rules; a raw cookie header is dropped entirely and a query string
    is filtered by parameter name. The server applies the same rules while it normalises an event
    (`event_format.normalise`), in one copy.
    """
    for name in ("extra", "contexts", "user", "tags", "request"):
        event[name] = scrub(event[name])
    event["message"] = scrub_string(event["message"])
    request = event["request"]
    if request:
        cookies = request.get("cookies")
        if isinstance(cookies, str) and cookies:
            request["cookies"] = FILTERED
        query = request.get("query_string")
        if isinstance(query, str) and query:
            request["query_string"] = scrub_query_string(query)
    for exc in event["exception"]:
        exc["value"] = scrub_string(exc["value"])
        for frame in exc["frames"]:
            frame["context_line"] = scrub_string(frame["context_line"])
            for name in ("pre_context", "post_context"):
                lines = frame.get(name)
                if lines:
                    frame[name] = [scrub_string(line) if isinstance(line, str) else line for line in lines]
            if frame["vars"]:
                frame["vars"] = scrub(frame["vars"])
    for crumb in event["breadcrumbs"]:
        crumb["message"] = scrub_string(crumb["message"])
        if crumb["data"]:
            crumb["data"] = scrub(crumb["data"])
    return event
