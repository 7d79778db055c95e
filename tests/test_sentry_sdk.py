"""The real `sentry-sdk` against a live uvicorn server: what an unmodified Sentry app sends is stored,
looks like a native event, and groups with native events of the same exception."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sentry_sdk
import tracebin

from app.settings import Settings
from tests.conftest import partner_auth
from tests.support.server import live_server
from tests.test_sentry_routes import stored_events, stored_issues, use_up_quota


@dataclass(frozen=True)
class Live:
    base_url: str
    key: str
    project_number: int
    database_url: str

    @property
    def dsn(self) -> str:
        # What TRACEBIN_URL would be if the service's public URL were this live server's.
        host = self.base_url.split("://", 1)[1]
        return f"http://{self.key}@{host}/{self.project_number}"


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    with live_server(settings) as base_url:
        reply = httpx.post(
            f"{base_url}/heroku/resources",
            json={"uuid": "sentry-sdk-test", "plan": "hobby", "region": "us"},
            headers=partner_auth(),
        )
        assert reply.status_code == 200, reply.text
        url = httpx.URL(reply.json()["config"]["TRACEBIN_URL"])
        yield Live(
            base_url=base_url,
            key=url.username,
            project_number=int(url.path.strip("/")),
            database_url=settings.database_url,
        )


@contextmanager
def sentry(dsn: str, **options: Any) -> Iterator[None]:
    """A fresh sentry-sdk client for one test, flushed and closed after it (no global state leaks)."""
    sentry_sdk.init(dsn=dsn, auto_enabling_integrations=False, **options)
    try:
        yield
        sentry_sdk.flush(timeout=10)  # waits until the worker has sent everything
    finally:
        sentry_sdk.get_client().close(timeout=10)
        sentry_sdk.init()


class CheckoutError(Exception):
    pass


class Cart:
    def checkout(self, amount: str) -> int:
        card = {"number": "4242424242424242", "amount": amount}
        return int(card["amount"])


def place_order(amount: str) -> int:
    try:
        return Cart().checkout(amount)
    except ValueError as exc:
        raise CheckoutError(f"order {amount} failed") from exc


def test_capture_exception_with_locals_and_chain(live: Live) -> None:
    with sentry(live.dsn, include_local_variables=True, release="v7", environment="production"):
        try:
            place_order("12abc")
        except CheckoutError as exc:
            event_id = sentry_sdk.capture_exception(exc)
    [stored] = stored_events(live.database_url, live.project_number)
    assert stored["event_id"] == event_id
    assert (stored["release"], stored["environment"]) == ("v7", "production")
    event = stored["payload"]
    assert [exc["type"] for exc in event["exception"]] == ["ValueError", "CheckoutError"]
    crashing = event["exception"][0]["frames"][-1]
    assert crashing["function"] == "checkout"
    assert crashing["context_line"].strip() == 'return int(card["amount"])'
    assert crashing["vars"]["amount"] == "'12abc'"
    assert crashing["in_app"] is True
    assert event["sdk"]["name"].startswith("sentry.python")
    [issue] = stored_issues(live.database_url, live.project_number)
    assert issue["title"] == "CheckoutError: order 12abc failed"
    assert issue["count"] == 1


def test_capture_exception_without_locals(live: Live) -> None:
    with sentry(live.dsn, include_local_variables=False):
        try:
            place_order("x")
        except CheckoutError as exc:
            sentry_sdk.capture_exception(exc)
    [stored] = stored_events(live.database_url, live.project_number)
    frames = [frame for exc in stored["payload"]["exception"] for frame in exc["frames"]]
    assert frames and all(frame["vars"] == {} for frame in frames)
    assert all(frame["context_line"] for frame in frames)


def test_capture_message_and_logging_integration(live: Live) -> None:
    with sentry(live.dsn):
        message_id = sentry_sdk.capture_message("disk almost full", level="warning")
        logging.getLogger("shop.billing").error("invoice %s could not be sent", 881)
    stored = {event["payload"]["message"]: event for event in stored_events(live.database_url, live.project_number)}
    assert stored["disk almost full"]["event_id"] == message_id
    assert stored["disk almost full"]["level"] == "warning"
    logged = stored["invoice 881 could not be sent"]["payload"]
    assert logged["logger"] == "shop.billing"
    assert logged["level"] == "error"


@pytest.mark.parametrize("algo", ["gzip", "br"])
def test_compressed_transports(live: Live, algo: str) -> None:
    with sentry(live.dsn, _experiments={"transport_compression_algo": algo}):
        transport = sentry_sdk.get_client().transport
        assert getattr(transport, "_compression_algo", None) == algo  # the body really is compressed
        sentry_sdk.capture_message(f"compressed with {algo}")
    [stored] = stored_events(live.database_url, live.project_number)
    assert stored["payload"]["message"] == f"compressed with {algo}"


def test_over_quota_the_sdk_is_told_to_back_off(live: Live) -> None:
    use_up_quota(live.database_url, live.project_number, 10_000)  # the hobby plan's month
    with sentry(live.dsn):
        for amount in ("1x", "2y"):
            try:
                charge(amount)
            except CheckoutError as exc:
                sentry_sdk.capture_exception(exc)
            sentry_sdk.flush(timeout=10)
        # The 429's X-Sentry-Rate-Limits made the transport hold back every category.
        disabled_until = getattr(sentry_sdk.get_client().transport, "_disabled_until", {})
        assert None in disabled_until
        held_back = (disabled_until[None] - datetime.now(UTC)).total_seconds()
        assert 0 < held_back <= 3600
    stored = stored_events(live.database_url, live.project_number)
    assert len(stored) == 1  # the first event of the new issue is kept past the quota


def test_repeated_exceptions_group_into_one_issue(live: Live) -> None:
    with sentry(live.dsn):
        for amount in ("1x", "2y", "3z"):
            try:
                place_order(amount)
            except CheckoutError as exc:
                sentry_sdk.capture_exception(exc)
    assert len(stored_events(live.database_url, live.project_number)) == 3
    [issue] = stored_issues(live.database_url, live.project_number)
    assert issue["count"] == 3


def parse_amount(amount: str) -> int:
    return int(amount)


def charge(amount: str) -> int:
    try:
        return parse_amount(amount)
    except ValueError as exc:
        raise CheckoutError(f"charge of {amount} failed") from exc


def _sentry_then_native(live: Live, action: Callable[[str], int]) -> list[dict[str, Any]]:
    """Report one exception through sentry-sdk and through the native client; the stored issues."""
    with sentry(live.dsn):
        try:
            action("9q")
        except CheckoutError as exc:
            sentry_sdk.capture_exception(exc)
            native = tracebin.event_from_exception(exc)
    reply = httpx.post(f"{live.base_url}/exceptions", json=native, auth=(live.key, ""))
    assert reply.status_code == 202, reply.text
    stored = stored_events(live.database_url, live.project_number)
    assert sorted(event["payload"]["sdk"]["name"].split(".")[0] for event in stored) == ["sentry", "tracebin"]
    return stored_issues(live.database_url, live.project_number)


def test_sentry_and_native_events_of_one_exception_share_an_issue(live: Live) -> None:
    [issue] = _sentry_then_native(live, charge)
    assert issue["count"] == 2
    assert issue["title"] == "CheckoutError: charge of 9q failed"


def test_sentry_and_native_events_share_an_issue_when_a_method_crashed(live: Live) -> None:
    [issue] = _sentry_then_native(live, place_order)
    assert issue["count"] == 2
