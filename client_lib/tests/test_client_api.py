from __future__ import annotations

import logging

import pytest

import tracebin
from tracebin._config import build_config, parse_url


def test_all_lists_every_public_name() -> None:
    public = {name for name in vars(tracebin) if not name.startswith("_")} | {"__version__"}
    assert set(tracebin.__all__) == public
    for name in tracebin.__all__:
        assert hasattr(tracebin, name)


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown tracebin option"):
        tracebin.init("https://k@host/1", sample_rat=0.5)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"sample_rate": 2}, ValueError),
        ({"sample_rate": "1"}, TypeError),
        ({"before_send": 3}, TypeError),
        ({"ignore_exceptions": ["ValueError"]}, TypeError),
        ({"queue_size": 0}, ValueError),
        ({"in_app_include": "myapp"}, TypeError),
    ],
)
def test_bad_option_values_are_refused(options: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        tracebin.init("https://k@host/1", **options)


def test_without_url_every_call_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEBIN_URL", raising=False)
    tracebin.init()
    try:
        raise ValueError("x")
    except ValueError:
        assert tracebin.capture_exception() is None
    assert tracebin.capture_message("hello") is None
    assert tracebin.flush(1) is True


def test_malformed_url_warns_once_and_disables(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tracebin"):
        tracebin.init("https://host-without-key/1")
    warnings = [r for r in caplog.records if r.name == "tracebin"]
    assert len(warnings) == 1 and "malformed" in warnings[0].getMessage()
    assert tracebin.capture_message("hello") is None


def test_init_reads_tracebin_url(monkeypatch: pytest.MonkeyPatch, sink: object, spool_dir: str) -> None:
    monkeypatch.setenv("TRACEBIN_URL", sink.url)  # type: ignore[attr-defined]
    tracebin.init(spool_dir=spool_dir)
    assert tracebin.capture_message("hello") is not None
    assert tracebin.flush(5)
    assert [e["message"] for e in sink.events()] == ["hello"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "release"),
    [
        ({"HEROKU_RELEASE_VERSION": "v42", "HEROKU_SLUG_COMMIT": "abc"}, "v42"),
        ({"HEROKU_SLUG_COMMIT": "abc", "SOURCE_VERSION": "def"}, "abc"),
        ({"SOURCE_VERSION": "def"}, "def"),
        ({}, None),
    ],
)
def test_release_defaults_from_heroku(env: dict[str, str], release: str | None) -> None:
    assert build_config({"url": ""}, env).release == release


def test_server_name_and_environment_defaults() -> None:
    config = build_config({"url": ""}, {"DYNO": "web.1", "TRACEBIN_ENVIRONMENT": "staging"})
    assert (config.server_name, config.environment) == ("web.1", "staging")
    assert build_config({"url": "", "environment": "qa"}, {}).environment == "qa"


@pytest.mark.parametrize(
    "url",
    ["ftp://k@h/1", "https://h/1", "https://k@h/", "https://k@h/abc", "https://k@h/0", "https://k@h:xx/1"],
)
def test_parse_url_refuses_malformed(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)


def test_parse_url_accepts_a_path_prefix_and_port() -> None:
    endpoint = parse_url("https://abc@errors.example.com:8443/tracebin/7")
    assert (endpoint.host, endpoint.port, endpoint.prefix, endpoint.project) == (
        "errors.example.com",
        8443,
        "/tracebin",
        7,
    )
    assert endpoint.path("exceptions") == "/tracebin/exceptions"


def test_internal_errors_are_logged_never_raised(
    no_swallowed_errors: list[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    tracebin.set_context("cart", 5)  # type: ignore[arg-type]  # dict(5) fails inside the library
    assert [type(e) for e in no_swallowed_errors] == [TypeError]
    assert any(r.name == "tracebin" and "set_context failed" in r.getMessage() for r in caplog.records)
    no_swallowed_errors.clear()  # seen on purpose; the fixture fails every other test that has one
