"""addon-manifest.json agrees with the app: config vars, routed paths, plans, placeholders."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from starlette.routing import Route

from app.main import all_routes
from app.plans import PLANS
from app.services.provisioning import CONFIG_VAR

MANIFEST = json.loads((Path(__file__).resolve().parent.parent / "addon-manifest.json").read_text())
HARNESS_REGIONS = {"us", "eu", "frankfurt", "oregon", "tokyo", "virginia", "*"}


def routed(path: str, method: str) -> bool:
    for route in all_routes():
        if isinstance(route, Route) and route.methods and method in route.methods:
            match, _ = route.matches({"type": "http", "path": path, "method": method})
            if match.name == "FULL":
                return True
    return False


def test_identity_and_version() -> None:
    assert MANIFEST["id"] == "tracebin"
    api = MANIFEST["api"]
    assert api["version"] == "3"
    assert "username" not in api
    assert api["requires"] == []
    assert set(api["regions"]) <= HARNESS_REGIONS


def test_config_vars_match_what_provisioning_returns() -> None:
    config_vars = MANIFEST["api"]["config_vars"]
    assert config_vars == [CONFIG_VAR]
    assert all(name.isupper() and name.startswith("TRACEBIN_") for name in config_vars)


def test_secrets_are_placeholders() -> None:
    assert "PLACEHOLDER" in MANIFEST["api"]["password"]
    assert "PLACEHOLDER" in MANIFEST["api"]["sso_salt"]


def test_urls_are_routed_by_the_app() -> None:
    api = MANIFEST["api"]
    for env, scheme in (("production", "https"), ("test", "http")):
        base, sso = urlsplit(api[env]["base_url"]), urlsplit(api[env]["sso_url"])
        assert base.scheme == sso.scheme == scheme
        assert base.path == "/heroku/resources"
        assert routed(base.path, "POST")
        assert routed(base.path + "/some-uuid", "PUT")
        assert routed(base.path + "/some-uuid", "DELETE")
        assert routed(sso.path, "POST")
    assert urlsplit(api["test"]["base_url"]).hostname == "localhost"


def test_plans_match_the_app() -> None:
    listed = {plan["name"]: plan for plan in MANIFEST["plans"]}
    assert set(listed) == set(PLANS)
    for name, plan in PLANS.items():
        assert listed[name]["events_per_month"] == plan.events_per_month
        assert listed[name]["retention_days"] == plan.retention_days
