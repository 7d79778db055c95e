"""A small make-believe web app whose real exceptions feed the load test (real frames, real locals).

Each `fail_*` function raises through a few layers of ordinary code, the way a view calls services
that call helpers. `raise_kind(kind, variant)` picks one; `deep_failure` makes a large stack with
bulky locals; `new_failure` raises an exception of a brand-new class (a new issue on the server).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ORDERS: dict[int, dict[str, Any]] = {n: {"id": n, "total": n * 3.5, "items": list(range(n % 7))} for n in range(50)}


class PaymentDeclined(Exception):
    pass


class UpstreamTimeout(Exception):
    pass


class TemplateMissing(LookupError):
    pass


def _load_order(order_id: int) -> dict[str, Any]:
    cache_key = f"order:{order_id}"
    return ORDERS[order_id] if cache_key else {}


def _charge(order: dict[str, Any], card: str) -> None:
    amount_cents = int(order["total"] * 100)
    if card.endswith("0000"):
        raise PaymentDeclined(f"card ending {card[-4:]} declined for {amount_cents} cents (order {order['id']})")


def _parse_payload(raw: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


def _average(values: list[float]) -> float:
    return sum(values) / len(values)


def _call_upstream(service: str, attempt: int) -> None:
    timeout_s = 2.5 * attempt
    raise UpstreamTimeout(f"{service} did not answer within {timeout_s} s (attempt {attempt})")


def _render(template: str, context: dict[str, Any]) -> str:
    raise TemplateMissing(f"template {template!r} not found; searched {len(context)} paths")


def view_order(variant: int) -> None:
    order_id = 1000 + variant  # not in ORDERS: KeyError
    _load_order(order_id)


def checkout(variant: int) -> None:
    order = _load_order(variant % 50)
    password = "hunter2-should-be-scrubbed"  # a secret local the scrubber must hide
    _charge(order, card=f"4111111111{variant % 10:02d}0000" if password else "")


def api_import(variant: int) -> None:
    _parse_payload('{"rows": [1, 2, ' + str(variant))


def report_stats(variant: int) -> None:
    samples: list[float] = [float(variant)] * 0  # no samples this period
    _average(samples)


def sync_inventory(variant: int) -> None:
    for attempt in range(1, 3):
        try:
            _call_upstream("inventory-service", attempt)
        except UpstreamTimeout as exc:
            if attempt == 2:
                raise RuntimeError(f"inventory sync {variant} gave up") from exc


def render_page(variant: int) -> None:
    _render(f"pages/landing_{variant % 3}.html", {"user": variant, "paths": ["a", "b"]})


def attribute_error(variant: int) -> None:
    profile = None if variant >= 0 else {"name": "x"}
    profile.name  # type: ignore[union-attr]  # noqa: B018 (the bug is the point)


KINDS: dict[str, Callable[[int], None]] = {
    "view_order": view_order,
    "checkout": checkout,
    "api_import": api_import,
    "report_stats": report_stats,
    "sync_inventory": sync_inventory,
    "render_page": render_page,
    "attribute_error": attribute_error,
}


def raise_kind(kind: str, variant: int) -> BaseException:
    """Run the failing code path `kind` and return the exception it raised (with its traceback)."""
    try:
        KINDS[kind](variant)
    except Exception as exc:
        return exc
    raise AssertionError(f"{kind} did not fail")


def _recurse(depth: int, payload: dict[str, Any], blob: str) -> None:
    level_data = {"depth": depth, "keys": list(payload)[:20], "note": blob[:200]}
    if depth <= 0:
        raise RecursionError(f"tree too deep while walking node {level_data['depth']} of {len(payload)}")
    _recurse(depth - 1, payload, blob)


def deep_failure(variant: int, depth: int = 60) -> BaseException:
    """A large stack (≈depth frames) whose frames carry bulky locals."""
    payload = {f"field_{i}": {"value": "x" * 100, "index": i, "tags": [variant, i]} for i in range(15)}
    blob = "lorem ipsum dolor sit amet " * 400
    try:
        _recurse(depth, payload, blob)
    except RecursionError as exc:
        return exc
    raise AssertionError("no failure")


def new_failure(serial: int) -> BaseException:
    """An exception of a class never seen before: the server must open a new issue for it."""
    cls = type(f"GeneratedError{serial}", (RuntimeError,), {"__module__": "loadtests.sample_app"})
    try:
        view_with_new_bug(cls, serial)
    except RuntimeError as exc:
        return exc
    raise AssertionError("no failure")


def view_with_new_bug(cls: type[RuntimeError], serial: int) -> None:
    raise cls(f"a new bug #{serial}")
