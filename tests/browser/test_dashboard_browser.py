"""The dashboard in real headless Chromium against a real uvicorn (SQLite).

Heroku's SSO form is posted from another origin, hostile events are rendered, an issue is resolved
through the page. Screenshots go to test-artifacts/ (kept by CI as artifacts).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import ADDON_PASSWORD, make_settings
from tests.support import db as dbsupport
from tests.support.dashboard import sso_form
from tests.support.server import live_server, page_on_another_origin

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HOSTILE = "<script>window.__pwned=1;document.title='pwned'</script><img src=x onerror=\"window.__pwned=2;alert(1)\">"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def app_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    url = dbsupport.sqlite_copy(sqlite_template, tmp_path / "browser.sqlite3")
    # Plain http on 127.0.0.1: no Secure cookies, as in `make run`.
    with live_server(make_settings(url, public_url="http://127.0.0.1")) as base_url:
        yield base_url


def provision(base_url: str) -> tuple[str, str]:
    """A resource through the partner API: (heroku uuid, API key)."""
    heroku_uuid = str(uuid.uuid4())
    reply = httpx.post(
        f"{base_url}/heroku/resources",
        json={"uuid": heroku_uuid, "plan": "hobby", "name": "acme-app"},
        auth=("tracebin", ADDON_PASSWORD),
    )
    assert reply.status_code == 200, reply.text
    url = httpx.URL(reply.json()["config"]["TRACEBIN_URL"])
    return heroku_uuid, url.username


def report(base_url: str, key: str, event: dict[str, object]) -> None:
    reply = httpx.post(f"{base_url}/exceptions", json=event, auth=(key, ""))
    assert reply.status_code == 202, reply.text


def auto_submit_form(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{value}">' for name, value in fields.items()
    )  # test-controlled values, no escaping needed
    return (
        f'<!doctype html><html><body><form method="post" action="{action}">{inputs}</form>'
        "<script>document.forms[0].submit()</script></body></html>"
    )


def new_page(browser: Browser) -> Page:
    page = browser.new_page()
    # No network here: fail Heroku's Boomerang script at once instead of waiting for a timeout.
    page.route("https://s3.amazonaws.com/**", lambda route: route.abort())
    return page


def sign_in_from_heroku(page: Page, base_url: str, heroku_uuid: str, **extra: str) -> None:
    form = sso_form(heroku_uuid, **extra)
    with page_on_another_origin(auto_submit_form(f"{base_url}/sso/login", form)) as heroku_url:
        page.goto(heroku_url)
        page.wait_for_url(f"{base_url}/dashboard**")


def test_sso_form_from_another_origin_lands_on_the_dashboard_with_the_nav_header(
    chromium: Browser, app_url: str
) -> None:
    heroku_uuid, key = provision(app_url)
    report(app_url, key, {"exception": [{"type": "ValueError", "value": "bad input"}], "environment": "production"})
    page = new_page(chromium)
    boomerang_requests: list[str] = []
    page.on("request", lambda request: boomerang_requests.append(request.url) if "boomerang" in request.url else None)
    sign_in_from_heroku(page, app_url, heroku_uuid)
    assert page.url == f"{app_url}/dashboard"
    assert page.locator("h1").inner_text() == "Issues"
    assert page.locator("script[src*=boomerang]").count() == 1
    assert page.locator("#heroku-nav").get_attribute("data-app") == "acme-app"
    assert any(url.endswith("/boomerang/boomerang.js") for url in boomerang_requests)
    assert page.locator("table.issues tbody tr").count() == 1
    assert "nav-data" not in page.content()
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["tracebin_session"]["httpOnly"] and cookies["tracebin_session"]["sameSite"] == "Lax"
    assert cookies["heroku-nav-data"]["value"] == sso_form(heroku_uuid)["nav-data"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-list.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "dashboard-list-phone.png"), full_page=True)
    page.close()


def test_hostile_event_fields_are_shown_as_text_and_run_nothing(chromium: Browser, app_url: str) -> None:
    heroku_uuid, key = provision(app_url)
    frame = {"filename": "app/views.py", "function": "index", "lineno": 3, "in_app": True, "vars": {"payload": HOSTILE}}
    report(
        app_url,
        key,
        {
            "message": HOSTILE,
            "exception": [{"type": "ValueError", "value": HOSTILE, "frames": [frame]}],
            "tags": {"t": HOSTILE},
            "breadcrumbs": [{"message": HOSTILE}],
        },
    )
    page = new_page(chromium)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in_from_heroku(page, app_url, heroku_uuid)
    page.locator("table.issues a").first.click()
    page.wait_for_url(f"{app_url}/dashboard/issues/*")
    page.locator("details.vars summary").first.click()  # unfold the locals too
    page.wait_for_load_state("load")
    assert page.locator("#event-message").inner_text() == HOSTILE
    assert HOSTILE in page.locator("#event-tags").inner_text()
    assert page.locator("details.vars pre").first.inner_text() == HOSTILE
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned" and dialogs == []
    assert page.locator("main img").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-detail-hostile.png"), full_page=True)
    page.close()


def test_resolving_issues_through_the_pages(chromium: Browser, app_url: str) -> None:
    heroku_uuid, key = provision(app_url)
    for function in ("checkout", "billing"):
        frame = {"filename": "shop/views.py", "function": function, "lineno": 12, "in_app": True,
                 "context_line": "total = cart.total()", "pre_context": ["def view(request):"]}  # fmt: skip
        event = {"exception": [{"type": "KeyError", "value": "'sku'", "frames": [frame]}], "release": "v1"}
        report(app_url, key, event)
    page = new_page(chromium)
    sign_in_from_heroku(page, app_url, heroku_uuid)
    # Bulk: tick the first issue, press Resolve.
    page.locator("table.issues input[type=checkbox]").first.check()
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("table.issues tbody tr")).to_have_count(1)  # waits for the redirected page
    assert page.url.startswith(f"{app_url}/dashboard")
    # Detail: resolve the other one with its button.
    page.locator("table.issues a").first.click()
    page.wait_for_url(f"{app_url}/dashboard/issues/*")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-detail.png"), full_page=True)
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#issue-status")).to_have_text("resolved")
    page.goto(f"{app_url}/dashboard")
    assert page.locator("table.issues").count() == 0
    assert "No issues match" in page.locator("main").inner_text()
    page.get_by_role("link", name="Resolved 2").click()
    expect(page.locator("table.issues tbody tr")).to_have_count(2)  # the click only starts the navigation
    page.close()
