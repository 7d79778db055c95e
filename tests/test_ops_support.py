"""Support: the contact form opens a ticket mailed to SUPPORT_EMAIL; the console answers and solves it."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from app.main import create_app
from tests.conftest import PUBLIC_URL, make_settings, provision
from tests.opskit import body_of, console_login, console_post, create_operator, csrf_of, smtp_sink, sso_login

SUPPORT = "help@tracebin.test"


def test_ticket_from_the_dashboard_to_an_answer_in_the_console(database_url: str) -> None:
    with smtp_sink() as sink:
        settings = make_settings(database_url, smtp_url=sink.url, support_email=SUPPORT)
        create_operator(settings)
        with (
            TestClient(create_app(settings), base_url=PUBLIC_URL) as customer,
            TestClient(create_app(settings), base_url=PUBLIC_URL) as operator,
        ):
            added = provision(customer)
            sso_login(customer, added.heroku_uuid, "dev@acme.test", app="acme-prod")
            form_page = customer.get("/dashboard/support")
            assert form_page.status_code == 200 and f"mailto:{SUPPORT}" in form_page.text  # footer and page
            assert customer.post("/dashboard/support", data={"subject": "x", "message": "y"}).status_code == 403
            reply = customer.post(
                "/dashboard/support",
                data={"csrf_token": csrf_of(form_page.text), "subject": "Events missing", "message": "Since <noon>."},
                follow_redirects=False,
            )
            assert reply.status_code == 303
            ticket_id = int(reply.headers["location"].rsplit("=", 1)[1])

            to_support = sink.wait_for(lambda found: len(found) >= 1)[0]
            assert to_support["X-Envelope-To"] == SUPPORT and to_support["Reply-To"] == "dev@acme.test"
            assert f"#{ticket_id}" in to_support["Subject"]
            text = body_of(to_support)
            assert "acme-prod" in text and added.heroku_uuid in text and "Since <noon>." in text

            console_login(operator)
            listed = operator.get("/admin/support").text
            assert "Events missing" in listed
            assert "Since &lt;noon&gt;." in operator.get(f"/admin/support/{ticket_id}").text
            done = console_post(operator, f"/admin/support/{ticket_id}/answer", {"answer": "Fixed on our side."})
            assert done.status_code == 303
            assert re.search(r'id="ticket-status">solved<', operator.get(f"/admin/support/{ticket_id}").text)

            answer = sink.wait_for(lambda found: len(found) >= 2)[1]
            assert answer["X-Envelope-To"] == "dev@acme.test"
            assert answer["Subject"].startswith(f"Re: [Tracebin support #{ticket_id}]")
            assert "Fixed on our side." in body_of(answer)
            assert "Fixed on our side." in customer.get("/dashboard/support").text


def test_support_form_needs_a_customer_session(database_url: str) -> None:
    settings = make_settings(database_url)
    with TestClient(create_app(settings), base_url=PUBLIC_URL) as client:
        assert client.get("/dashboard/support").status_code == 401
        page = client.get("/status")
        assert page.status_code == 200 and "support@tracebin.dev" in page.text
