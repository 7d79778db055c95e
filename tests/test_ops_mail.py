"""Customer notifications through a real SMTP server: opt-out, critical kinds, quota warnings, retries."""

from __future__ import annotations

import asyncio
import re
import time

import sqlalchemy as sa
from starlette.testclient import TestClient

from app.context import AppContext, build_context
from app.main import create_app
from app.services import notifications
from app.settings import Settings
from app.storage import ops_customers, ops_outbox
from app.storage.tables import usage_monthly
from tests.conftest import PUBLIC_URL, make_settings, provision
from tests.opskit import SmtpSink, body_of, console_login, console_post, create_operator, smtp_sink, sso_login


def _optout_url(text: str) -> str:
    found = re.search(r"https://tracebin\.test(/optout/[\w.\-]+)", text)
    assert found, text
    return found.group(1)


def test_opt_out_is_honoured_and_critical_mail_still_sent(database_url: str) -> None:
    with smtp_sink() as sink:
        settings = make_settings(database_url, smtp_url=sink.url)
        create_operator(settings)
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
            heroku_uuid = provision(client).heroku_uuid
            sso_login(client, heroku_uuid, "ann@acme.test")
            sso_login(client, heroku_uuid, "bob@acme.test")
            console_login(client)
            form = {"kind": "feature_update", "subject": "Release v2", "body": "Saved searches are here."}
            assert console_post(client, "/admin/notifications", form).status_code == 303
            sink.wait_for(lambda found: len(found) == 2)
            mail = sink.to("ann@acme.test")[0]
            assert mail["Subject"] == "[Tracebin] Release v2"
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            link = _optout_url(body_of(mail))
            assert f"<{PUBLIC_URL}{link}>" == mail["List-Unsubscribe"]

            # The link's GET only asks; the POST (what one-click mail clients send) acts at once.
            with TestClient(create_app(settings), base_url=PUBLIC_URL) as stranger:  # no session at all
                assert "Unsubscribe" in stranger.get(link).text
                assert stranger.post(link[:-3] + "xyz").status_code == 404  # tampered token
                done = stranger.post(link)
                assert done.status_code == 200 and "no longer receive feature update mail" in done.text

            console_post(client, "/admin/notifications", {**form, "subject": "Release v3"})
            console_post(
                client, "/admin/notifications", {"kind": "terms", "subject": "New terms", "body": "Read them."}
            )
            sink.wait_for(lambda found: len(found) == 5)
            subjects = {m["Subject"] for m in sink.to("ann@acme.test")}
            assert subjects == {"[Tracebin] Release v2", "[Tracebin] New terms"}
            assert {m["Subject"] for m in sink.to("bob@acme.test")} == {
                "[Tracebin] Release v2",
                "[Tracebin] Release v3",
                "[Tracebin] New terms",
            }
            for message in sink.messages:
                assert message["From"] == settings.mail_from
                if "terms" in message["Subject"]:
                    assert "List-Unsubscribe" not in message and "/optout/" not in body_of(message)


async def _set_usage(settings: Settings, resource_id: int, events: int) -> None:
    tm = time.gmtime()
    month = tm.tm_year * 100 + tm.tm_mon
    ctx = build_context(settings)
    await ctx.db.connect()
    try:
        async with ctx.db.transaction() as conn:
            await conn.execute(sa.delete(usage_monthly).where(usage_monthly.c.resource_id == resource_id))
            await conn.execute(sa.insert(usage_monthly).values(resource_id=resource_id, month=month, events=events))
    finally:
        await ctx.db.disconnect()


def _post_event(client: TestClient, auth: dict[str, str], n: int) -> int:
    event = {"message": f"quota test {n}", "level": "error"}
    return client.post("/exceptions", json=event, headers=auth).status_code


def test_quota_warnings_at_80_and_100_percent_once_each(database_url: str) -> None:
    with smtp_sink() as sink:
        settings = make_settings(database_url, smtp_url=sink.url)
        with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
            added = provision(client, plan="test")  # 1,000 events a month
            sso_login(client, added.heroku_uuid, "ops@acme.test")
            asyncio.run(_set_usage(settings, added.project_number, 798))
            assert _post_event(client, added.basic_auth(), 1) == 202  # 799: nothing yet
            assert _post_event(client, added.basic_auth(), 2) == 202  # 800: the 80 % mail
            assert _post_event(client, added.basic_auth(), 3) == 202  # 801: no second one
            sink.wait_for(lambda found: len(found) >= 1)
            asyncio.run(_set_usage_keep_flags(settings, added.project_number, 999))
            for n in range(4, 7):
                _post_event(client, added.basic_auth(), n)  # reaches 100 %, then over quota
            sink.wait_for(lambda found: len(found) >= 2)
        subjects = [m["Subject"] for m in sink.messages]
        assert subjects == [
            "[Tracebin] You have used 80 % of this month's events",
            "[Tracebin] You have used 100 % of this month's events",
        ]
        assert "1,000" in body_of(sink.messages[1])


async def _set_usage_keep_flags(settings: Settings, resource_id: int, events: int) -> None:
    ctx = build_context(settings)
    await ctx.db.connect()
    try:
        async with ctx.db.transaction() as conn:
            await conn.execute(
                sa.update(usage_monthly).where(usage_monthly.c.resource_id == resource_id).values(events=events)
            )
    finally:
        await ctx.db.disconnect()


def test_quota_warning_is_sent_once_when_two_processes_see_the_same_total(database_url: str) -> None:
    settings = make_settings(database_url)

    async def run() -> int:
        first, second = build_context(settings), build_context(settings)
        await first.db.connect()
        await second.db.connect()
        try:
            await _set_usage(settings, 1, 0)
            await asyncio.gather(
                first.ops.quota_warnings.check(1, _month(), 850, 1000),
                second.ops.quota_warnings.check(1, _month(), 850, 1000),
            )
            # Resource 1 has no contacts (it does not exist): count the claims instead of mails.
            async with first.db.connection() as conn:
                row = await conn.fetch_one(sa.select(usage_monthly.c.warned_80).where(usage_monthly.c.resource_id == 1))
            assert row is not None and bool(row[0])
            return sum(
                [
                    await _claim_again(first),
                    await _claim_again(second),
                ]
            )
        finally:
            await first.db.disconnect()
            await second.db.disconnect()

    assert asyncio.run(run()) == 0


async def _claim_again(ctx: AppContext) -> int:
    return int(await ops_customers.claim_quota_warning(ctx.db, resource_id=1, month=_month(), level=80))


def _month() -> int:
    tm = time.gmtime()
    return tm.tm_year * 100 + tm.tm_mon


def test_outbox_retries_with_backoff_until_smtp_is_up(database_url: str) -> None:
    sink = SmtpSink()  # its port is chosen, but nothing listens there until it is started
    settings = make_settings(database_url, smtp_url=sink.url)

    async def attempt(now: int | None) -> list[ops_outbox.OutboxMessage]:
        ctx = build_context(settings)
        await ctx.db.connect()
        try:
            if now is None:
                await notifications.send_email(ctx, to="ann@acme.test", kind="support", subject="Hello", body="Hi")
            await ctx.ops.sender.run_once(now=now)
            return await ops_outbox.list_messages(ctx.db)
        finally:
            await ctx.db.disconnect()

    first = asyncio.run(attempt(None))
    assert [(m.status, m.attempts) for m in first] == [("pending", 1)]
    assert first[0].next_attempt_at >= int(time.time()) + 20 and first[0].last_error
    # Not due yet: nothing is tried.
    assert [(m.status, m.attempts) for m in asyncio.run(attempt(int(time.time())))] == [("pending", 1)]
    sink.controller.start()
    try:
        done = asyncio.run(attempt(first[0].next_attempt_at))
        assert [(m.status, m.attempts) for m in done] == [("sent", 2)]
        assert [m["Subject"] for m in sink.messages] == ["Hello"]
    finally:
        sink.controller.stop()


def test_without_smtp_mail_stays_in_the_outbox(database_url: str) -> None:
    settings = make_settings(database_url)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        heroku_uuid = provision(client).heroku_uuid
        sso_login(client, heroku_uuid, "ann@acme.test")
        create_operator(settings)
        console_login(client)
        console_post(client, "/admin/notifications", {"kind": "survey", "subject": "Tell us", "body": "3 questions"})
        page = client.get("/admin/notifications").text
        assert "No SMTP_URL is set" in page and "ann@acme.test" in page and "pending" in page
