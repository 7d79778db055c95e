"""`tracebin-server sso-demo`: sign in locally the way Heroku does, without Heroku.

Writes an HTML page holding Heroku's SSO form (fresh tokens, valid for five minutes) that submits
itself to this server's /sso/login when opened in a browser.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import time
from pathlib import Path

from app.settings import Settings


def sso_fields(settings: Settings, heroku_uuid: str, *, app: str, email: str, issue: int | None) -> dict[str, str]:
    """What Heroku's dashboard posts: all three token forms for one timestamp."""
    ts = str(int(time.time()))
    legacy = hashlib.sha1(f"{heroku_uuid}:{settings.sso_salt}:{ts}".encode()).hexdigest()  # noqa: S324 - Heroku's protocol
    user_id = "local-user"
    scoped = hashlib.sha256(f"{heroku_uuid}:{settings.sso_salt}:{ts}:{user_id}:{email}".encode()).hexdigest()
    fields = {
        "id": heroku_uuid,
        "resource_id": heroku_uuid,
        "token": legacy,
        "resource_token": legacy,
        "user_scoped_resource_token": scoped,
        "timestamp": ts,
        "nav-data": "local",
        "email": email,
        "user_id": user_id,
        "app": app,
        "context_app": app,
    }
    if issue is not None:
        fields["issue"] = str(issue)
    return fields


def form_page(action: str, fields: dict[str, str]) -> str:
    inputs = "\n".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields.items()
    )
    return (
        "<!doctype html><meta charset=utf-8><title>Heroku SSO (local)</title>"
        f'<form method="post" action="{html.escape(action)}">{inputs}<button>Open Tracebin</button></form>'
        "<script>document.forms[0].submit()</script>"
    )


def cmd_sso_demo(args: argparse.Namespace, settings: Settings) -> int:
    fields = sso_fields(settings, args.resource, app=args.app, email=args.email, issue=args.issue)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(form_page(f"{settings.public_url}/sso/login", fields))
    print(f"open file://{out.resolve()} in a browser within 5 minutes (it posts Heroku's SSO form to this server)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("sso-demo", help="write a page that signs in to the dashboard as Heroku's SSO would")
    parser.add_argument("--resource", required=True, help="Heroku uuid of the resource (seed-demo prints it)")
    parser.add_argument("--app", default="demo-app")
    parser.add_argument("--email", default="you@example.com")
    parser.add_argument("--issue", type=int, default=None, help="deep link: open this issue")
    parser.add_argument("--out", default="var/sso-demo.html")
    parser.set_defaults(func=cmd_sso_demo)
