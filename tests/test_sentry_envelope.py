"""The envelope parser on hand-written envelopes and on one the real sentry-sdk serialised."""

from __future__ import annotations

import pytest
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.envelope import Item, PayloadRef

from app.errors import BadRequest
from app.services.sentry_envelope import parse_envelope

EVENT = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"hi"}'


def test_items_with_length_may_contain_newlines() -> None:
    payload = b'{"message":"line one\nline two"}'
    body = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n' + (
        b'{"type":"attachment","length":%d}\n%s\n{"type":"event","length":%d}\n%s\n'
        % (len(payload), payload, len(EVENT), EVENT)
    )
    envelope = parse_envelope(body)
    assert envelope.headers == {"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"}
    assert [item.type for item in envelope.items] == ["attachment", "event"]
    assert envelope.items[0].payload == payload
    assert envelope.items[1].json()["message"] == "hi"


def test_items_without_length_end_at_the_newline() -> None:
    body = b'{}\n{"type":"event"}\n' + EVENT + b'\n{"type":"client_report"}\n{"discarded_events":[]}\n'
    envelope = parse_envelope(body)
    assert [item.type for item in envelope.items] == ["event", "client_report"]
    assert envelope.items[0].payload == EVENT
    assert envelope.items[1].json() == {"discarded_events": []}


def test_trailing_newline_is_optional() -> None:
    without_length = parse_envelope(b'{}\n{"type":"event"}\n' + EVENT)
    with_length = parse_envelope(b'{}\n{"type":"event","length":%d}\n%s' % (len(EVENT), EVENT))
    assert without_length.items[0].payload == EVENT
    assert with_length.items[0].payload == EVENT


def test_blank_lines_between_items_and_at_the_end_are_tolerated() -> None:
    body = b'{}\n{"type":"event"}\n' + EVENT + b'\n\n{"type":"session"}\n{"sid":"x"}\n\n'
    assert [item.type for item in parse_envelope(body).items] == ["event", "session"]


def test_unknown_item_types_are_kept_for_the_caller_to_skip() -> None:
    body = b'{}\n{"type":"profile_chunk","length":3}\nabc\n{"type":"event"}\n' + EVENT + b"\n"
    envelope = parse_envelope(body)
    assert [item.type for item in envelope.of_type("event")] == ["event"]
    assert envelope.items[0].payload == b"abc"


def test_a_header_only_envelope_has_no_items() -> None:
    assert parse_envelope(b'{"dsn":"https://k@h/1"}').items == ()
    assert parse_envelope(b'{"dsn":"https://k@h/1"}\n').items == ()


def test_zero_length_and_empty_payloads() -> None:
    envelope = parse_envelope(b'{}\n{"type":"a","length":0}\n\n{"type":"b"}\n\n')
    assert [(item.type, item.payload) for item in envelope.items] == [("a", b""), ("b", b"")]


def test_an_envelope_serialised_by_sentry_sdk() -> None:
    sdk = SdkEnvelope(headers={"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "dsn": "https://k@h/3"})
    sdk.add_event({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "message": "multi\nline"})
    sdk.add_item(Item(payload=PayloadRef(bytes=b"raw\nbytes"), type="attachment"))
    sdk.add_item(Item(payload=PayloadRef(json={"discarded_events": []}), type="client_report"))
    envelope = parse_envelope(sdk.serialize())
    assert envelope.headers["dsn"] == "https://k@h/3"
    assert [item.type for item in envelope.items] == ["event", "attachment", "client_report"]
    assert envelope.items[0].json()["message"] == "multi\nline"
    assert envelope.items[1].payload == b"raw\nbytes"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"not json\n", "envelope header: malformed JSON"),
        (b"[1]\n", "header must be a JSON object"),
        (b'{}\n{"length":2}\nab\n', "item 0: 'type'"),
        (b'{}\n{"type":"event"}\n{}\nnope\n', "item 1 header: malformed JSON"),
        (b'{}\n{"type":"event","length":-1}\n', "non-negative integer"),
        (b'{}\n{"type":"event","length":"3"}\nabc\n', "non-negative integer"),
        (b'{}\n{"type":"event","length":10}\nabc\n', "shorter than its length 10"),
        (b'{}\n{"type":"event","length":2}\nabc\n', "no newline after its 2-byte payload"),
    ],
)
def test_malformed_envelopes_name_the_problem(body: bytes, problem: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_envelope(body)
    assert problem in caught.value.message


def test_a_payload_that_is_not_json_names_its_item() -> None:
    envelope = parse_envelope(b'{}\n{"type":"event"}\n{oops\n')
    with pytest.raises(BadRequest, match="event item: malformed JSON"):
        envelope.items[0].json()
