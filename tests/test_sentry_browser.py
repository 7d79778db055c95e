"""CORS as a browser SDK meets it: real headless Chromium posting envelopes from another origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import make_settings, partner_auth
from tests.support import db as dbsupport
from tests.support.server import live_server, page_on_another_origin
from tests.test_sentry_routes import envelope_body, event_item, stored_events

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# What @sentry/browser's fetch transport does (no credentials), plus a preflighted variant and a refusal.
POST_FROM_PAGE = """async ([url, key, body]) => {
    const simple = await fetch(`${url}?sentry_key=${key}&sentry_version=7`, {
        method: "POST", body, referrerPolicy: "origin", keepalive: true,
        headers: {"Content-Type": "text/plain;charset=UTF-8"},
    });
    const preflighted = await fetch(url, {
        method: "POST", body,
        headers: {"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": `Sentry sentry_key=${key}, sentry_version=7`},
    });
    const refused = await fetch(`${url}?sentry_key=not-a-key`, {method: "POST", body});
    return {
        simple: [simple.status, await simple.json()],
        preflighted: [preflighted.status, await preflighted.json()],
        refused: [refused.status, refused.headers.get("x-sentry-error")],
    };
}"""


def test_browser_posts_envelopes_cross_origin(tmp_path: Path, sqlite_template: Path) -> None:
    database_url = dbsupport.sqlite_copy(sqlite_template, tmp_path / "browser.sqlite3")
    with live_server(make_settings(database_url, public_url="http://127.0.0.1")) as base_url:
        reply = httpx.post(
            f"{base_url}/heroku/resources", json={"uuid": "browser", "plan": "hobby"}, headers=partner_auth()
        )
        url = httpx.URL(reply.json()["config"]["TRACEBIN_URL"])
        project = int(url.path.strip("/"))
        body = envelope_body(event_item({"message": "from the browser", "platform": "javascript"})).decode()
        with page_on_another_origin("<!doctype html><title>shop</title>") as page_url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(page_url)
                result: dict[str, Any] = page.evaluate(
                    POST_FROM_PAGE, [f"{base_url}/api/{project}/envelope/", url.username, body]
                )
            finally:
                browser.close()
        assert result["simple"][0] == 200, result
        assert result["preflighted"][0] == 200, result
        assert result["simple"][1]["id"] != result["preflighted"][1]["id"]
        assert result["refused"][0] == 401
        assert result["refused"][1]  # exposed to the page's script
        stored = stored_events(database_url, project)
        assert [event["payload"]["message"] for event in stored] == ["from the browser"] * 2
        assert stored[0]["payload"]["platform"] == "javascript"
