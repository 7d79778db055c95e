"""Locust scenarios against a real Tracebin (started by `python -m loadtests.run`, which passes the
provisioned resources and secrets in the JSON file named by $TRACEBIN_LOADTEST_CONFIG).

- AppUser: apps of many projects posting exceptions to POST /exceptions (Basic auth with the key),
  events made by the client library's builder: recurring exceptions, new ones, large stacks with
  locals, some gzip-compressed; a small share with a wrong key (401) or an oversized body (413),
  counted as expected outcomes under their own names, never as failures when the status is right.
- DashboardUser (fixed count, low rate): signs in by Heroku SSO (POST /sso/login) and browses the
  issue list and issue pages.
- ChurnUser (fixed count, rare): provision → a few events → plan change → deprovision through the
  partner API, then checks that the old key is refused.

Every event id sent is tracked in a ledger (acknowledged / refused / uncertain, by project); at exit
the ledger is written where the config says, for the after-run database check.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from locust import FastHttpUser, constant_throughput, events, task
from locust.env import Environment

from loadtests import events as bodies
from loadtests.scenario import CONFIG_ENV, Ledger, ResourceRef, ScenarioConfig

CONFIG = ScenarioConfig.from_json(Path(os.environ[CONFIG_ENV]).read_text())
LEDGER = Ledger()
RNG = random.Random(CONFIG.seed)

EXCEPTIONS = "POST /exceptions"
BAD_KEY = "POST /exceptions [bad key, expect 401]"
OVERSIZED = "POST /exceptions [oversized, expect 413]"
BOMB = "POST /exceptions [gzip bomb, expect 413]"
GONE_KEY = "POST /exceptions [deprovisioned key, expect 401]"

# Built once per locust process (the builder is too slow to run per request at thousands of req/s).
RECURRING = bodies.recurring_templates(RNG)
LARGE = bodies.large_templates(RNG)
OVERSIZED_BODY = bodies.oversized_body()
BOMB_BODY = bodies.compressed_bomb_body()
NEW_SERIAL = itertools.count(1)
# Some projects are much noisier than others (a rough Zipf curve over the resources).
PROJECT_WEIGHTS = [1.0 / (rank + 1) for rank in range(len(CONFIG.resources))]


def basic_auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


AUTH = {ref.project: basic_auth(ref.key) for ref in CONFIG.resources}
JSON_HEADERS = {"Content-Type": "application/json"}


def write_results(environment: Environment, **_: Any) -> None:
    """At exit, every user has stopped: the ledger and the stats describe the same requests.

    (locust's CSV is written by a timer and can miss the last second of the run.)
    """
    LEDGER.write(CONFIG.ledger_path)
    Path(CONFIG.stats_path).write_bytes(orjson.dumps(stats_snapshot(environment)))


def stats_snapshot(environment: Environment) -> dict[str, Any]:
    stats = environment.stats

    def entry(item: Any, name: str) -> dict[str, Any]:
        has = item.num_requests > 0
        return {
            "name": name,
            "requests": item.num_requests,
            "failures": item.num_failures,
            "rps": item.total_rps,
            "p50": item.get_response_time_percentile(0.50) if has else None,
            "p95": item.get_response_time_percentile(0.95) if has else None,
            "p99": item.get_response_time_percentile(0.99) if has else None,
            "max_ms": item.max_response_time if has else None,
        }

    endpoints = [entry(item, item.name) for item in stats.entries.values()]
    errors = [{"name": e.name, "error": str(e.error), "count": e.occurrences} for e in stats.errors.values()]
    return {"endpoints": [*endpoints, entry(stats.total, "Aggregated")], "errors": errors}


def write_ledger_at_stop(environment: Environment, **_: Any) -> None:
    LEDGER.write(CONFIG.ledger_path)


# Registered by call: locust's add_listener is untyped, and as a decorator it would untype the functions.
events.quitting.add_listener(write_results)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(write_ledger_at_stop)  # type: ignore[no-untyped-call]


def post_event(
    user: FastHttpUser, project: int, auth: str, event_id: str, body: bytes, *, compress: bool = False
) -> None:
    """POST one valid event; 202 with the same id is success, anything else a failure (tracked either way)."""
    headers = {**JSON_HEADERS, "Authorization": auth}
    if compress:
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    LEDGER.sending(project, event_id)
    status = 0
    try:
        with user.client.post("/exceptions", data=body, headers=headers, name=EXCEPTIONS, catch_response=True) as reply:  # type: ignore[arg-type]  # locust annotates str; bytes are sent as-is
            status = reply.status_code or 0
            if status != 202:
                reply.failure(f"HTTP {status}: {(reply.text or '')[:120]}")
            elif _reply_id(reply.content) != event_id:
                status = 0  # acknowledged something else: do not count it as this event's ack
                reply.failure("202 with a different event id")
    finally:
        LEDGER.outcome(event_id, status)


def expect_status(user: FastHttpUser, name: str, body: bytes, headers: dict[str, str], expected: int) -> None:
    with user.client.post("/exceptions", data=body, headers=headers, name=name, catch_response=True) as reply:  # type: ignore[arg-type]  # locust annotates str; bytes are sent as-is
        if reply.status_code == expected:
            reply.success()
        else:
            reply.failure(f"expected {expected}, got HTTP {reply.status_code}")


def _reply_id(content: bytes | None) -> str | None:
    try:
        value = orjson.loads(content or b"").get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class AppUser(FastHttpUser):
    """Apps reporting exceptions; the rate per user is set by loadtests.run."""

    weight = 100
    wait_time = constant_throughput(CONFIG.event_user_rate)

    @task
    def report(self) -> None:
        mix = CONFIG.mix
        ref = RNG.choices(CONFIG.resources, weights=PROJECT_WEIGHTS)[0]
        roll = RNG.random()
        if roll < mix.bad_key:
            body = RNG.choice(RECURRING).body(bodies.new_event_id(), time.time())
            headers = {**JSON_HEADERS, "Authorization": basic_auth(uuid.uuid4().hex)}
            expect_status(self, BAD_KEY, body, headers, 401)
            return
        roll -= mix.bad_key
        if roll < mix.oversized:
            expect_status(self, OVERSIZED, OVERSIZED_BODY, {**JSON_HEADERS, "Authorization": AUTH[ref.project]}, 413)
            return
        roll -= mix.oversized
        if roll < mix.bomb:
            headers = {**JSON_HEADERS, "Authorization": AUTH[ref.project], "Content-Encoding": "gzip"}
            expect_status(self, BOMB, BOMB_BODY, headers, 413)
            return
        roll -= mix.bomb
        compress = RNG.random() < mix.gzip
        if roll < mix.new_issue:
            event_id, body = bodies.new_issue_body(next(NEW_SERIAL), RNG)
        else:
            template = RNG.choice(LARGE) if roll < mix.new_issue + mix.large else RNG.choice(RECURRING)
            event_id = bodies.new_event_id()
            body = template.body(event_id, time.time())
            compress = compress or template.large  # clients compress big bodies
        post_event(self, ref.project, AUTH[ref.project], event_id, body, compress=compress)


def sso_form(ref: ResourceRef, salt: str, email: str, user_id: str) -> dict[str, str]:
    """What Heroku's dashboard makes the browser POST to /sso/login (PROTOCOL.md section 2)."""
    timestamp = str(int(time.time()))
    resource_id = ref.heroku_uuid
    return {
        "id": resource_id,
        "token": hashlib.sha1(f"{resource_id}:{salt}:{timestamp}".encode()).hexdigest(),
        "resource_id": resource_id,
        "resource_token": hashlib.sha1(f"{resource_id}:{salt}:{timestamp}".encode()).hexdigest(),
        "user_scoped_resource_token": hashlib.sha256(
            f"{resource_id}:{salt}:{timestamp}:{user_id}:{email}".encode()
        ).hexdigest(),
        "timestamp": timestamp,
        "nav-data": "loadtest-nav-data",
        "email": email,
        "user_id": user_id,
        "app": "loadtest-app",
        "context_app": "loadtest-app",
    }


ISSUE_LINK = re.compile(r'href="(/[^"?#]*issues?/\d+)[^"]*"')
DASHBOARD_USER_SERIAL = itertools.count()


class DashboardUser(FastHttpUser):
    """A person who opens Tracebin from the Heroku dashboard and looks at issues."""

    fixed_count = CONFIG.dashboard_users
    wait_time = constant_throughput(CONFIG.dashboard_rate)

    def on_start(self) -> None:
        serial = next(DASHBOARD_USER_SERIAL)
        self.ref = CONFIG.resources[serial % len(CONFIG.resources)]
        self.email = f"dev{serial}@example.com"
        self.user_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, self.email))
        self.cookie = ""
        self.home = "/dashboard"
        self.pages = 0
        self.last_login = 0.0

    def sign_in(self) -> bool:
        # A token is good once: two sign-ins in the same second would replay it.
        time.sleep(max(0.0, 1.05 - (time.time() - self.last_login)))
        self.last_login = time.time()
        form = sso_form(self.ref, CONFIG.sso_salt, self.email, self.user_id)
        encoded = "&".join(f"{k}={v}" for k, v in form.items())  # hex, uuids, simple words: nothing to escape
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        with self.client.post(
            "/sso/login",
            data=encoded,
            headers=headers,
            name="POST /sso/login",
            allow_redirects=False,
            catch_response=True,
        ) as reply:
            if reply.status_code not in (302, 303):
                reply.failure(f"expected 302/303, got HTTP {reply.status_code}")
                return False
            # The session cookie is Secure (the server's public URL is https) and we talk plain HTTP
            # to 127.0.0.1, so carry it by hand.
            cookies = [c.split(";", 1)[0] for c in _set_cookies(reply.headers)]
            self.cookie = "; ".join(c for c in cookies if c)
            location = reply.headers.get("location") or "/dashboard"
            self.home = "/" + location.split("://", 1)[-1].split("/", 1)[-1] if "://" in location else location
            reply.success()
        return bool(self.cookie)

    @task
    def browse(self) -> None:
        if not self.cookie or self.pages >= 40:
            self.pages = 0
            if not self.sign_in():
                return
        self.pages += 1
        headers = {"Cookie": self.cookie, "Accept": "text/html"}
        with self.client.get(
            self.home, headers=headers, name="GET dashboard: issue list", catch_response=True
        ) as reply:
            if reply.status_code != 200:
                reply.failure(f"HTTP {reply.status_code}")
                return
            links = ISSUE_LINK.findall(reply.text or "")
        if self.pages % 5 == 0:
            with self.client.get(
                "/dashboard/usage", headers=headers, name="GET dashboard: usage", catch_response=True
            ) as usage:
                if usage.status_code != 200:
                    usage.failure(f"HTTP {usage.status_code}")
        if links:
            with self.client.get(
                RNG.choice(links), headers=headers, name="GET dashboard: issue page", catch_response=True
            ) as page:
                if page.status_code != 200:
                    page.failure(f"HTTP {page.status_code}")


def _set_cookies(headers: Any) -> list[str]:
    if hasattr(headers, "get_all"):
        found = headers.get_all("set-cookie")
        if found:
            return list(found)
    value = headers.get("set-cookie") if headers else None
    return [value] if value else []


class ChurnUser(FastHttpUser):
    """Heroku provisioning, re-planning and removing add-ons while the apps keep reporting."""

    fixed_count = CONFIG.churn_users
    wait_time = constant_throughput(1.0 / CONFIG.churn_cycle_seconds)

    def on_start(self) -> None:
        token = base64.b64encode(f"tracebin:{CONFIG.addon_password}".encode()).decode()
        self.partner = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    @task
    def cycle(self) -> None:
        heroku_uuid = str(uuid.uuid4())
        body = {"uuid": heroku_uuid, "plan": "hobby", "region": "amazon-web-services::us-east-1", "name": "churn-app"}
        with self.client.post(
            "/heroku/resources",
            data=orjson.dumps(body),  # type: ignore[arg-type]  # locust annotates str; bytes are sent as-is
            headers=self.partner,
            name="POST /heroku/resources",
            catch_response=True,
        ) as reply:
            if reply.status_code != 200:
                reply.failure(f"HTTP {reply.status_code}")
                return
            url = orjson.loads(reply.content or b"{}")["config"]["TRACEBIN_URL"]
        key = url.split("://", 1)[1].split("@", 1)[0]
        project = int(url.rsplit("/", 1)[1])
        auth = basic_auth(key)
        for _ in range(2):
            event_id = bodies.new_event_id()
            post_event(self, project, auth, event_id, RNG.choice(RECURRING).body(event_id, time.time()))
        with self.client.put(
            f"/heroku/resources/{heroku_uuid}",
            data=orjson.dumps({"plan": "basic"}),  # type: ignore[arg-type]  # locust annotates str; bytes are sent as-is
            headers=self.partner,
            name="PUT /heroku/resources/{id}",
            catch_response=True,
        ) as reply:
            if reply.status_code != 200:
                reply.failure(f"HTTP {reply.status_code}")
        LEDGER.deprovisioning.add(project)
        with self.client.delete(
            f"/heroku/resources/{heroku_uuid}",
            headers=self.partner,
            name="DELETE /heroku/resources/{id}",
            catch_response=True,
        ) as reply:
            if reply.status_code not in (200, 204):
                reply.failure(f"HTTP {reply.status_code}")
                return
        LEDGER.deprovisioned.add(project)
        body_gone = RNG.choice(RECURRING).body(bodies.new_event_id(), time.time())
        expect_status(self, GONE_KEY, body_gone, {**JSON_HEADERS, "Authorization": auth}, 401)
