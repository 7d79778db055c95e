"""The dashboard over HTTP: list, filters, pagination, actions, detail, events, usage, JSON twins.

Events arrive through the real consume path (POST /exceptions); bulk data through the seed module.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from starlette.testclient import TestClient

from app.seed import seed_demo
from tests.conftest import Provisioned, provision
from tests.support.dashboard import sign_in

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def report(client: TestClient, resource: Provisioned, event: dict[str, Any]) -> str:
    reply = client.post("/exceptions", json=event, headers=resource.basic_auth())
    assert reply.status_code == 202, reply.text
    event_id: str = reply.json()["id"]
    return event_id


def crash(
    type_: str = "ValueError", value: str = "bad input", function: str = "index", **fields: Any
) -> dict[str, Any]:
    frame = {"filename": "app/views.py", "function": function, "module": "app.views", "lineno": 12, "in_app": True}
    return {"exception": [{"type": type_, "value": value, "frames": [frame]}], **fields}


def issues_json(client: TestClient, query: str = "") -> dict[str, Any]:
    reply = client.get(f"/dashboard{query}", headers=JSON)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def csrf_of(client: TestClient, path: str = "/dashboard") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path, headers=HTML).text)
    assert match
    return match.group(1)


def seed(client: TestClient, resource: Provisioned, *, issues: int, events: int) -> None:
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    call = functools.partial(
        seed_demo, db, resource_id=resource.project_number, n_issues=issues, n_events=events, seed=1
    )
    client.portal.call(call)  # type: ignore[union-attr]


def test_not_signed_in_is_a_friendly_401(client: TestClient) -> None:
    for path in ("/dashboard", "/dashboard/issues/1", "/dashboard/usage"):
        page = client.get(path, headers=HTML, follow_redirects=False)
        assert page.status_code == 401
        assert "Open Tracebin from Heroku" in page.text
        assert client.get(path, headers=JSON).status_code == 401


def test_list_filters_by_status_level_environment_release_and_text(client: TestClient, resource: Provisioned) -> None:
    report(client, resource, crash("ValueError", function="checkout", environment="production", release="v1"))
    report(client, resource, crash("KeyError", function="billing", environment="staging", release="v2"))
    report(client, resource, {"message": "disk almost full", "level": "warning", "environment": "production"})
    sign_in(client, resource.heroku_uuid)
    titles = lambda query: sorted(i["title"] for i in issues_json(client, query)["issues"])  # noqa: E731
    assert len(titles("")) == 3
    assert titles("?level=warning") == ["disk almost full"]
    assert titles("?environment=staging") == ["KeyError: bad input"]
    assert titles("?release=v1") == ["ValueError: bad input"]
    assert titles("?q=KEYERR") == ["KeyError: bad input"]
    assert titles("?q=billing") == ["KeyError: bad input"]  # the culprit is searched too
    assert titles("?q=100%25") == []  # LIKE wildcards are literal
    assert issues_json(client, "?q=keyerr")["total"] is None  # text matches are not counted
    assert issues_json(client, "?environment=production")["total"] == 2
    assert titles("?status=resolved") == []
    assert issues_json(client)["status_counts"] == {"unresolved": 3, "resolved": 0, "ignored": 0}
    page = client.get("/dashboard?environment=staging", headers=HTML)
    assert '<option value="staging" selected>' in page.text
    assert client.get("/dashboard?level=loud", headers=JSON).status_code == 400


def test_sort_and_keyset_pagination_visit_every_issue_once(client: TestClient, resource: Provisioned) -> None:
    seed(client, resource, issues=120, events=600)
    sign_in(client, resource.heroku_uuid)
    for sort in ("last_seen", "first_seen", "count"):
        seen: list[dict[str, Any]] = []
        query: str | None = f"?status=all&sort={sort}"
        while query is not None:
            data = issues_json(client, query)
            seen.extend(data["issues"])
            query = data["next"].removeprefix("/dashboard") if data["next"] else None
        assert len(seen) == 120 == len({issue["id"] for issue in seen})
        keys = [(issue[sort], issue["id"]) for issue in seen]
        assert keys == sorted(keys, reverse=True)
    assert sum(issues_json(client, "?status=all&sort=count")["issues"][0]["last_24h"]) >= 0
    assert issues_json(client, "?status=all")["total"] == 120


def test_bulk_resolve_ignore_reopen_with_csrf(client: TestClient, resource: Provisioned) -> None:
    for name in ("a", "b", "c"):
        report(client, resource, crash(function=name))
    sign_in(client, resource.heroku_uuid)
    ids = [issue["id"] for issue in issues_json(client)["issues"]]
    token = csrf_of(client)
    form = {"csrf_token": token, "action": "resolve", "ids": [str(i) for i in ids[:2]], "next": "/dashboard?sort=count"}
    reply = client.post("/dashboard/issues/bulk", data=form, headers=HTML, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/dashboard?sort=count"
    assert issues_json(client)["status_counts"] == {"unresolved": 1, "resolved": 2, "ignored": 0}
    form.update(action="ignore", ids=[str(ids[2])], next="https://evil.example/")
    reply = client.post("/dashboard/issues/bulk", data=form, headers=HTML, follow_redirects=False)
    assert reply.headers["location"] == "/dashboard"
    form.update(action="reopen", ids=[str(ids[0])])
    assert client.post("/dashboard/issues/bulk", data=form, headers=JSON).json() == {"changed": 1}
    assert issues_json(client)["status_counts"] == {"unresolved": 1, "resolved": 1, "ignored": 1}
    # Without the token nothing changes.
    del form["csrf_token"]
    form["action"] = "resolve"
    assert client.post("/dashboard/issues/bulk", data=form, headers=HTML).status_code == 403
    assert issues_json(client)["status_counts"]["unresolved"] == 1


def test_detail_shows_the_chained_trace_and_the_event_context(client: TestClient, resource: Provisioned) -> None:
    event = {
        "message": "checkout failed",
        "exception": [
            {
                "type": "KeyError",
                "value": "'sku'",
                "frames": [{"filename": "shop/cart.py", "function": "lookup", "lineno": 3, "in_app": True}],
            },
            {
                "type": "ValueError",
                "value": "cart is broken",
                "mechanism": {"type": "excepthook", "handled": False},
                "frames": [
                    {"filename": "lib/framework.py", "function": "dispatch", "lineno": 90, "in_app": False},
                    {
                        "filename": "shop/views.py",
                        "function": "checkout",
                        "lineno": 12,
                        "in_app": True,
                        "context_line": "total = cart.total()",
                        "pre_context": ["def checkout(request):"],
                        "post_context": ["return total"],
                        "vars": {"cart_id": "'c-991'"},
                    },
                ],
            },
        ],
        "release": "v42",
        "environment": "production",
        "tags": {"region": "eu-west"},
        "user": {"id": "u-7", "email": "buyer@example.com"},
        "request": {"method": "POST", "url": "https://shop.example.com/checkout"},
        "breadcrumbs": [{"category": "sql", "message": "SELECT 1", "level": "info"}],
    }
    report(client, resource, event)
    sign_in(client, resource.heroku_uuid)
    issue_id = issues_json(client)["issues"][0]["id"]
    page = client.get(f"/dashboard/issues/{issue_id}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    for expected in (
        "KeyError", "The above caused:", "cart is broken", "unhandled", "shop/views.py", "total = cart.total()",
        "def checkout(request):", "Locals (1)", "&#39;c-991&#39;", "eu-west", "buyer@example.com",
        "POST https://shop.example.com/checkout", "SELECT 1", "v42", "production", "<svg class=\"chart\"",
    ):  # fmt: skip
        assert expected in text, expected
    # Root cause first, as Python prints it.
    assert text.index('"exc-type">KeyError') < text.index('"exc-value">cart is broken')
    assert 'class="frame in-app"' in text
    data = client.get(f"/dashboard/issues/{issue_id}", headers=JSON).json()
    assert data["issue"]["count"] == 1
    assert data["event"]["payload"]["tags"] == {"region": "eu-west"}
    assert data["releases"] == ["v42"]
    assert sum(point["count"] for point in data["last_24h"]) == 1
    assert sum(point["count"] for point in data["last_30d"]) == 1


def test_every_event_field_is_escaped(client: TestClient, resource: Provisioned) -> None:
    hostile = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"
    event = crash(
        value=hostile,
        message=hostile,
        tags={"t": hostile},
        breadcrumbs=[{"message": hostile, "category": hostile}],
        request={"url": hostile, "method": "GET"},
    )
    event["exception"][0]["frames"][0]["vars"] = {"v": hostile}
    event["exception"][0]["frames"][0]["function"] = hostile
    report(client, resource, event)
    sign_in(client, resource.heroku_uuid)
    issue_id = issues_json(client)["issues"][0]["id"]
    for path in ("/dashboard", f"/dashboard/issues/{issue_id}", f"/dashboard/issues/{issue_id}/events"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200
        assert "<script>window" not in page.text and "<img src=x" not in page.text
    detail = client.get(f"/dashboard/issues/{issue_id}", headers=HTML).text
    assert detail.count("&lt;script&gt;window.__pwned=1&lt;/script&gt;") >= 5


def test_events_are_browsed_newest_first_by_keyset(client: TestClient, resource: Provisioned) -> None:
    for _ in range(55):
        report(client, resource, crash())
    sign_in(client, resource.heroku_uuid)
    issue_id = issues_json(client)["issues"][0]["id"]
    first = client.get(f"/dashboard/issues/{issue_id}/events", headers=JSON).json()
    assert len(first["events"]) == 50 and first["next"]
    second = client.get(first["next"], headers=JSON).json()
    assert len(second["events"]) == 5 and second["next"] is None
    ids = [e["id"] for e in first["events"] + second["events"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 55
    oldest = ids[-1]
    detail = client.get(f"/dashboard/issues/{issue_id}?event={oldest}", headers=JSON).json()
    assert detail["event"]["id"] == oldest and detail["older_event"] is None and detail["newer_event"] == ids[-2]
    html = client.get(f"/dashboard/issues/{issue_id}/events", headers=HTML).text
    assert f"/dashboard/issues/{issue_id}?event={ids[0]}" in html and "Older events" in html


def test_single_issue_actions(client: TestClient, resource: Provisioned) -> None:
    report(client, resource, crash())
    sign_in(client, resource.heroku_uuid)
    issue_id = issues_json(client)["issues"][0]["id"]
    token = csrf_of(client, f"/dashboard/issues/{issue_id}")
    reply = client.post(
        f"/dashboard/issues/{issue_id}/status", data={"csrf_token": token, "action": "resolve"}, follow_redirects=False
    )
    assert reply.status_code == 303 and reply.headers["location"] == f"/dashboard/issues/{issue_id}"
    issue = client.get(f"/dashboard/issues/{issue_id}", headers=JSON).json()["issue"]
    assert issue["status"] == "resolved" and issue["resolved_at"]
    bad = client.post(f"/dashboard/issues/{issue_id}/status", data={"csrf_token": token, "action": "explode"})
    assert bad.status_code == 400
    assert client.get("/dashboard/issues/abc", headers=JSON).status_code == 404
    assert client.get(f"/dashboard/issues/{issue_id + 1000}", headers=HTML).status_code == 404


def test_one_resource_never_reaches_another(client: TestClient, resource: Provisioned) -> None:
    other = provision(client)
    report(client, resource, crash(function="mine"))
    report(client, other, crash(function="theirs"))
    sign_in(client, other.heroku_uuid)
    their_issue = issues_json(client)["issues"][0]["id"]
    their_event = client.get(f"/dashboard/issues/{their_issue}", headers=JSON).json()["event"]["id"]
    sign_in(client, resource.heroku_uuid, timestamp=None, app="mine-app", user_id="u2")
    listed = issues_json(client, "?status=all")["issues"]
    assert [issue["culprit"] for issue in listed] == ["app.views in mine"]
    my_issue = listed[0]["id"]
    for path in (
        f"/dashboard/issues/{their_issue}",
        f"/dashboard/issues/{their_issue}/events",
        f"/dashboard/issues/{my_issue}?event={their_event}",
    ):
        assert client.get(path, headers=JSON).status_code == 404, path
        assert client.get(path, headers=HTML).status_code == 404, path
    token = csrf_of(client)
    action = {"csrf_token": token, "action": "resolve"}
    assert client.post(f"/dashboard/issues/{their_issue}/status", data=action, headers=JSON).status_code == 404
    bulk = {**action, "ids": [str(their_issue)]}
    assert client.post("/dashboard/issues/bulk", data=bulk, headers=JSON).status_code == 404
    sign_in(client, other.heroku_uuid, user_id="u3")
    assert issues_json(client)["issues"][0]["status"] == "unresolved"


def test_usage_page_counts_this_month_and_drops(client: TestClient, resource: Provisioned) -> None:
    for name in ("a", "b"):
        report(client, resource, crash(function=name))
    drops = {"discarded_events": [{"reason": "queue_full", "quantity": 7}]}
    assert client.post("/client-reports", json=drops, headers=resource.basic_auth()).status_code == 202
    sign_in(client, resource.heroku_uuid)
    data = client.get("/dashboard/usage", headers=JSON).json()
    assert data["events"] == 2 and data["quota"] == 10_000 and data["dropped_by_clients"] == 7
    assert data["retention_days"] == 7 and data["projected"] >= 2
    page = client.get("/dashboard/usage", headers=HTML).text
    assert 'id="events-this-month">2<' in page
    assert "TRACEBIN_URL" in page and "sentry_sdk.init" in page and "tracebin.init()" in page


def test_html_pages_carry_the_security_headers(client: TestClient, resource: Provisioned) -> None:
    sign_in(client, resource.heroku_uuid)
    page = client.get("/dashboard", headers=HTML)
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' https://s3.amazonaws.com/assets.heroku.com/boomerang/;" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text  # no inline script at all
