"""Grouping (PROTOCOL.md section 4) as a table: which pairs of events share an issue."""

from __future__ import annotations

from typing import Any

import pytest

from app.services import event_format, grouping


def frame(
    function: str, module: str = "app.views", lineno: int = 10, in_app: bool = True, **extra: Any
) -> dict[str, Any]:
    return {
        "function": function,
        "module": module,
        "filename": module.replace(".", "/") + ".py",
        "lineno": lineno,
        "in_app": in_app,
        **extra,
    }


def exc(
    type_: str = "ValueError", value: str = "bad input", frames: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"type": type_, "value": value, "frames": frames if frames is not None else [frame("index")]}


def event(*chain: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"exception": list(chain)} if chain else {}
    body.update(fields)
    return event_format.normalise(body, received_at=1_700_000_000)


LIB = frame("request", module="requests.api", in_app=False)

# (case, event a, event b, same issue?)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    (
        "ids in the message do not split",
        event(exc(value="user 123 not found")),
        event(exc(value="user 456 not found")),
        True,
    ),
    ("any message text is ignored with a stack", event(exc(value="x")), event(exc(value="completely different")), True),
    (
        "line numbers are ignored",
        event(exc(frames=[frame("index", lineno=10)])),
        event(exc(frames=[frame("index", lineno=99)])),
        True,
    ),
    ("another exception type splits", event(exc("ValueError")), event(exc("KeyError")), False),
    ("another function splits", event(exc(frames=[frame("index")])), event(exc(frames=[frame("detail")])), False),
    (
        "another module splits",
        event(exc(frames=[frame("index", module="app.a")])),
        event(exc(frames=[frame("index", module="app.b")])),
        False,
    ),
    (
        "library frames are ignored when in-app frames exist",
        event(exc(frames=[frame("index"), LIB])),
        event(exc(frames=[frame("index"), frame("get", module="urllib3.pool", in_app=False)])),
        True,
    ),
    (
        "without in-app frames, all frames count",
        event(exc(frames=[LIB])),
        event(exc(frames=[frame("get", module="urllib3.pool", in_app=False)])),
        False,
    ),
    (
        "file is used when there is no module",
        event(exc(frames=[{"filename": "a.js", "function": "f", "in_app": True}])),
        event(exc(frames=[{"filename": "b.js", "function": "f", "in_app": True}])),
        False,
    ),
    (
        "memory addresses in function names are masked",
        event(exc(frames=[frame("<lambda at 0x7f00aa>")])),
        event(exc(frames=[frame("<lambda at 0x7f11bb>")])),
        True,
    ),
    (
        "the chain counts: another cause splits",
        event(exc("OSError"), exc("RuntimeError")),
        event(exc("KeyError"), exc("RuntimeError")),
        False,
    ),
    (
        "no stack: masked message groups numbers, hex and uuids",
        event(exc(value="order 17 failed at 0xdeadbeef for 123e4567-e89b-12d3-a456-426614174000", frames=[])),
        event(exc(value="order 99 failed at 0x1234 for 00000000-0000-0000-0000-000000000001", frames=[])),
        True,
    ),
    (
        "no stack: different words split",
        event(exc(value="disk full", frames=[])),
        event(exc(value="disk gone", frames=[])),
        False,
    ),
    ("message only: numbers masked", event(message="took 1532 ms"), event(message="took 87 ms"), True),
    ("message only: words matter", event(message="cache miss"), event(message="cache hit"), False),
    ("message vs exception split", event(message="ValueError"), event(exc(frames=[])), False),
    (
        "client fingerprint overrides the stack",
        event(exc("ValueError"), fingerprint=["payments"]),
        event(exc("KeyError", frames=[frame("other")]), fingerprint=["payments"]),
        True,
    ),
    (
        "different client fingerprints split the same stack",
        event(exc(), fingerprint=["tenant-a"]),
        event(exc(), fingerprint=["tenant-b"]),
        False,
    ),
    (
        "{{ default }} keeps the default and adds parts",
        event(exc(value="a"), fingerprint=["{{ default }}", "eu"]),
        event(exc(value="b"), fingerprint=["{{default}}", "eu"]),
        True,
    ),
    (
        "{{ default }} with another extra part splits",
        event(exc(), fingerprint=["{{ default }}", "eu"]),
        event(exc(), fingerprint=["{{ default }}", "us"]),
        False,
    ),
    (
        "{{ default }} alone is the default grouping",
        event(exc(), fingerprint=["{{ default }}"]),
        event(exc()),
        True,
    ),
    (
        "a custom fingerprint never joins the default grouping",
        event(exc(), fingerprint=["{{ default }}", "x"]),
        event(exc()),
        False,
    ),
    (
        "a method and its bare name group together (co_qualname vs co_name)",
        event(exc(frames=[frame("Cart.checkout")])),
        event(exc(frames=[frame("checkout")])),
        True,
    ),
    (
        "nested functions group by their own name",
        event(exc(frames=[frame("make.<locals>.<lambda>")])),
        event(exc(frames=[frame("<lambda>")])),
        True,
    ),
    (
        "the module still tells same-named methods apart",
        event(exc(frames=[frame("Cart.checkout", module="app.cart")])),
        event(exc(frames=[frame("Basket.checkout", module="app.basket")])),
        False,
    ),
    (
        "{{ default }} still tells stacks apart",
        event(exc(frames=[frame("a")]), fingerprint=["{{ default }}", "x"]),
        event(exc(frames=[frame("b")]), fingerprint=["{{ default }}", "x"]),
        False,
    ),
]


@pytest.mark.parametrize(("case", "a", "b", "same"), CASES, ids=[case[0] for case in CASES])
def test_grouping_table(case: str, a: dict[str, Any], b: dict[str, Any], same: bool) -> None:
    assert (grouping.fingerprint(a) == grouping.fingerprint(b)) is same, case


def test_fingerprint_is_32_hex() -> None:
    fingerprint = grouping.fingerprint(event(exc()))
    assert len(fingerprint) == 32 and int(fingerprint, 16) >= 0


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("user 42 not found", "user <num> not found"),
        ("id 550e8400-e29b-41d4-a716-446655440000 gone", "id <uuid> gone"),
        ("at 0x7ffe12 crashed", "at <hex> crashed"),
        ("sha 9f86d081884c7d65 bad", "sha <hex> bad"),
        ("version 1.2.3 broke", "version <num> broke"),
        ("accepted deadbeef word", "accepted deadbeef word"),  # hex-looking words without digits stay
    ],
)
def test_mask_message(message: str, masked: str) -> None:
    assert grouping.mask_message(message) == masked


def test_title_and_culprit() -> None:
    grouped = grouping.group(
        event(exc("OSError", "root"), exc("ValueError", "bad input\nsecond line", frames=[frame("index"), LIB]))
    )
    assert grouped.title == "ValueError: bad input"
    assert grouped.culprit == "app.views in index"  # the last in-app frame, not the library one
    assert grouped.type == "ValueError"
    assert grouping.group(event(message="disk full")).title == "disk full"


PINNED = [
    (
        "a stack",
        {
            "exception": [
                {
                    "type": "KeyError",
                    "value": "k",
                    "frames": [
                        {"function": "Cart.load", "module": "app.cart", "in_app": True},
                        {"function": "<lambda at 0x7f3a>", "filename": "app/x.py", "in_app": True},
                    ],
                },
                {"type": "ValueError", "value": "v", "frames": [{"function": "get", "module": "requests.api"}]},
            ]
        },
        "1123037c3540658e6db099b1a1d8fa1a",
    ),
    (
        "no stack",
        {
            "exception": [
                {"type": "TimeoutError", "value": "job 1234 after 0x1f s id 8f14e45f-ceea-467a-9575-4d2b5a7c1a3e"}
            ]
        },
        "720b12d52ae7ea3bd27954fba02f3f74",
    ),
    ("a message", {"message": "disk 93% full on 10.0.0.1"}, "25ea4dc4bc08fcc7fd8fe6fadc4a020a"),
    (
        "a custom fingerprint",
        {"message": "m", "fingerprint": ["{{ default }}", "tenant-7"]},
        "d2d1a893815275c9e077c47737f11f05",
    ),
]


@pytest.mark.parametrize(("case", "body", "expected"), PINNED, ids=[case for case, _, _ in PINNED])
def test_fingerprints_stay_the_same_across_releases(case: str, body: dict[str, Any], expected: str) -> None:
    # Stored issues are found by fingerprint: a change of the function would split every issue in two.
    assert grouping.fingerprint(event_format.normalise(body, received_at=1_700_000_000)) == expected


def test_the_memo_of_fingerprints_gives_the_same_answers_and_stays_bounded() -> None:
    grouping._KNOWN.clear()
    body = PINNED[0][1]
    first = grouping.fingerprint(event_format.normalise(body, received_at=1))
    assert grouping.fingerprint(event_format.normalise(body, received_at=2)) == first == PINNED[0][2]
    assert len(grouping._KNOWN) == 1
    for i in range(grouping.MAX_KNOWN + 10):
        grouping.fingerprint(event(message=f"custom {i}", fingerprint=[f"part {i}"]))
    assert len(grouping._KNOWN) <= grouping.MAX_KNOWN
    grouping._KNOWN.clear()
    parts = [f"{i:03d}" + "x" * 200 for i in range(16)]  # joined: longer than MAX_KNOWN_LENGTH
    assert grouping.fingerprint(event(message="m", fingerprint=parts)) == grouping.fingerprint(
        event(message="m", fingerprint=parts)
    )
    assert grouping._KNOWN == {}  # too long to keep
