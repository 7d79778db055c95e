"""Issue alerts: email and/or a signed webhook on a new issue, a regression or a spike.

`AlertService.on_batch` is a batch listener: it only queues the batch's issue activity, and the
service's own task does the rest off the ingest path. Throttling, so that a flood of one issue sends
a handful of messages:
  - per issue and kind, a cooldown claimed in the database (`alert_state`, conditional UPDATE), so
    several processes never both alert: "new" once per issue, "regression" at most hourly, "spike"
    at most once per max(1 h, window);
  - a local memo of those claims, so a flood does not turn into one database round trip per batch;
  - a per-resource budget of MAX_ALERTS_PER_HOUR alerts (a flood of many distinct issues).
Spikes are counted in memory per process over minute buckets (N events within M ≤ 60 minutes);
with several web processes each sees its own share of the traffic.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import orjson

from app.errors import BadRequest
from app.services import notifications
from app.services.ops_tasks import BackgroundLoop
from app.storage import ops_alerts, ops_customers
from app.storage.ops_alerts import AlertSettings
from app.storage.ops_outbox import NewMessage

if TYPE_CHECKING:
    from app.context import AppContext, IssueActivity, UsageActivity

log = logging.getLogger(__name__)

MAX_ALERTS_PER_HOUR = 20
ONCE = 10 * 365 * 86400
REGRESSION_COOLDOWN = 3600
SETTINGS_TTL = 10.0
MAX_TRACKED_ISSUES = 50_000
QUEUE_SIZE = 50_000


@dataclass(frozen=True)
class Alert:
    kind: str  # new | regression | spike
    resource_id: int
    issue_id: int
    title: str
    level: str
    events_in_window: int
    window_minutes: int
    at: int


def issue_url(ctx: AppContext, issue_id: int) -> str:
    return f"{ctx.settings.public_url}/dashboard/issues/{issue_id}"


def _cooldown(kind: str, settings: AlertSettings) -> int:
    if kind == "new":
        return ONCE
    if kind == "regression":
        return REGRESSION_COOLDOWN
    return max(3600, settings.spike_minutes * 60)


class _SpikeCounter:
    """Events per issue in minute buckets over the last hour (bounded number of issues)."""

    def __init__(self) -> None:
        self._buckets: OrderedDict[int, deque[list[int]]] = OrderedDict()

    def add(self, issue_id: int, events: int, now: int) -> None:
        minute = now // 60
        buckets = self._buckets.pop(issue_id, None) or deque()
        if buckets and buckets[-1][0] == minute:
            buckets[-1][1] += events
        else:
            buckets.append([minute, events])
        while buckets and buckets[0][0] <= minute - 60:
            buckets.popleft()
        self._buckets[issue_id] = buckets
        while len(self._buckets) > MAX_TRACKED_ISSUES:
            self._buckets.popitem(last=False)

    def total(self, issue_id: int, minutes: int, now: int) -> int:
        since = now // 60 - minutes
        return sum(count for minute, count in self._buckets.get(issue_id, ()) if minute > since)


class AlertService(BackgroundLoop):
    name = "alerts"

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(interval=1.0)
        self.ctx = ctx
        self._queue: asyncio.Queue[IssueActivity] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._settings: dict[int, tuple[float, AlertSettings | None]] = {}
        self._memo: dict[tuple[int, str], int] = {}  # (issue, kind) → unix time until which we need not ask
        self._spikes = _SpikeCounter()
        self.sent = 0  # alerts that went out from this process (for the console)
        self.suppressed = 0

    @property
    def pending(self) -> int:
        """Batch activity queued and not yet looked at."""
        return self._queue.qsize()

    def forget_resource(self, resource_id: int) -> None:
        self._settings.pop(resource_id, None)

    async def on_batch(self, issues: Sequence[IssueActivity], usage: Sequence[UsageActivity]) -> None:
        for activity in issues:
            try:
                self._queue.put_nowait(activity)
            except asyncio.QueueFull:
                log.warning("alerts: queue full, dropping activity of issue %d", activity.issue_id)
        if issues:
            self.wake()

    async def tick(self) -> None:
        await self.drain()

    async def drain(self) -> None:
        """Process everything queued so far."""
        while not self._queue.empty():
            activity = self._queue.get_nowait()
            try:
                await self.process(activity)
            except Exception:
                log.exception("alerts: processing issue %d failed", activity.issue_id)

    async def process(self, activity: IssueActivity) -> None:
        self._spikes.add(activity.issue_id, activity.events, activity.at)
        cached = self._settings.get(activity.resource_id)  # the usual case, without a coroutine per activity
        if cached is not None and cached[0] > time.monotonic():
            settings = cached[1]
        else:
            settings = await self._load_settings(activity.resource_id)
        if settings is None or not settings.enabled:
            return
        kinds = []
        if activity.new and settings.on_new:
            kinds.append("new")
        elif activity.regressed and settings.on_regression:
            kinds.append("regression")
        window = self._spikes.total(activity.issue_id, settings.spike_minutes, activity.at)
        if settings.on_spike and window >= settings.spike_events:
            kinds.append("spike")
        for kind in kinds:
            alert = Alert(
                kind,
                activity.resource_id,
                activity.issue_id,
                activity.title,
                activity.level,
                window,
                settings.spike_minutes,
                activity.at,
            )
            await self._maybe_send(settings, alert)

    async def _load_settings(self, resource_id: int) -> AlertSettings | None:
        """A resource's alert settings from the database, cached for SETTINGS_TTL (process reads the cache)."""
        found = await ops_alerts.get_settings(self.ctx.db, resource_id=resource_id)
        self._settings[resource_id] = (time.monotonic() + SETTINGS_TTL, found)
        return found

    async def _maybe_send(self, settings: AlertSettings, alert: Alert) -> None:
        key = (alert.issue_id, alert.kind)
        now = alert.at
        if self._memo.get(key, 0) > now:
            self.suppressed += 1
            return
        cooldown = _cooldown(alert.kind, settings)
        db = self.ctx.db
        if not await ops_alerts.claim(
            db, resource_id=alert.resource_id, issue_id=alert.issue_id, kind=alert.kind, now=now, cooldown=cooldown
        ):
            # Another process (or an earlier run) sent it; ask again in a minute at most.
            self._memo[key] = now + min(cooldown, 60)
            self.suppressed += 1
            return
        # Remembered for an hour at most: the database keeps the long cooldowns, the memo stays small.
        self._memo[key] = now + min(cooldown, 3600)
        if len(self._memo) > MAX_TRACKED_ISSUES:
            self._memo = {k: until for k, until in self._memo.items() if until > now}
        if not await ops_alerts.take_budget(
            db, resource_id=alert.resource_id, hour=now // 3600, limit=MAX_ALERTS_PER_HOUR
        ):
            log.warning("alerts: hourly budget of resource %d used up; %s alert dropped", alert.resource_id, alert.kind)
            self.suppressed += 1
            return
        await self._send(settings, alert)
        self.sent += 1

    async def _send(self, settings: AlertSettings, alert: Alert) -> None:
        url = issue_url(self.ctx, alert.issue_id)
        messages: list[NewMessage] = []
        if settings.webhook_url:
            payload = webhook_payload(alert, url)
            messages.append(NewMessage("webhook", "alert", settings.webhook_url, "", payload, {}, alert.resource_id))
        if settings.email_enabled:
            subject, body = email_text(alert, url)
            for contact in await ops_customers.active_contacts(self.ctx.db, resource_ids=[alert.resource_id]):
                footer = f"\nChange alert settings: {self.ctx.settings.public_url}/dashboard/alerts"
                messages.append(
                    NewMessage("email", "alert", contact.email, subject, body + footer, {}, alert.resource_id)
                )
        await notifications.queue(self.ctx, messages)


HEADLINES = {"new": "New issue", "regression": "Regression", "spike": "Spike"}


def email_text(alert: Alert, url: str) -> tuple[str, str]:
    subject = f"[Tracebin] {HEADLINES[alert.kind]}: {alert.title[:150]}"
    lines = [f"{HEADLINES[alert.kind]} ({alert.level}): {alert.title}"]
    if alert.kind == "regression":
        lines.append("This issue was resolved and has happened again.")
    if alert.kind == "spike":
        lines.append(f"{alert.events_in_window} events in the last {alert.window_minutes} minutes.")
    lines.append(f"Open the issue: {url}")
    return subject, "\n".join(lines) + "\n"


def webhook_payload(alert: Alert, url: str) -> str:
    body = {
        "type": f"issue.{alert.kind}",
        "project": alert.resource_id,
        "issue": {"id": alert.issue_id, "title": alert.title, "level": alert.level, "url": url},
        "events_in_window": alert.events_in_window,
        "window_minutes": alert.window_minutes,
        "at": alert.at,
    }
    return orjson.dumps(body).decode()


# --- the dashboard's settings page ---------------------------------------------------------------


async def get_settings(ctx: AppContext, resource_id: int) -> AlertSettings:
    found = await ops_alerts.get_settings(ctx.db, resource_id=resource_id)
    return found or ops_alerts.default_settings(resource_id)


def _int_field(form: dict[str, str], name: str, low: int, high: int) -> int:
    raw = form.get(name, "").strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name.replace('_', ' ')} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def _webhook_url(raw: str) -> str:
    url = raw.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > 2000:
        raise BadRequest("the webhook URL must be an http or https URL", field="webhook_url")
    return url


async def save_settings(ctx: AppContext, resource_id: int, form: dict[str, str]) -> tuple[AlertSettings, str | None]:
    """Validate and store the form; returns the settings and a newly generated secret (shown once)."""
    current = await get_settings(ctx, resource_id)
    updated = replace(
        current,
        email_enabled=form.get("email_enabled") == "on",
        webhook_url=_webhook_url(form.get("webhook_url", "")),
        on_new=form.get("on_new") == "on",
        on_regression=form.get("on_regression") == "on",
        on_spike=form.get("on_spike") == "on",
        spike_events=_int_field(form, "spike_events", 1, 1_000_000),
        spike_minutes=_int_field(form, "spike_minutes", 1, 60),
        updated_at=int(time.time()),
    )
    new_secret = None
    if updated.webhook_url and not updated.webhook_secret:
        new_secret = new_webhook_secret()
        updated = replace(updated, webhook_secret=new_secret)
    await ops_alerts.save_settings(ctx.db, settings=updated)
    ctx.ops.alerts.forget_resource(resource_id)
    return updated, new_secret


async def rotate_secret(ctx: AppContext, resource_id: int) -> str:
    secret = new_webhook_secret()
    current = await get_settings(ctx, resource_id)
    await ops_alerts.save_settings(
        ctx.db, settings=replace(current, webhook_secret=secret, updated_at=int(time.time()))
    )
    ctx.ops.alerts.forget_resource(resource_id)
    return secret


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)
