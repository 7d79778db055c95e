"""Heroku's Add-on Partner API: POST/PUT/DELETE /heroku/resources[/{id}] (PROTOCOL.md section 1)."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.context import AppContext, get_context
from app.errors import Unauthorized
from app.http import JSONResponse, basic_auth, read_json_object, secrets_match
from app.services import provisioning

ADDON_ID = "tracebin"
MAX_BODY = 64 * 1024


def _authenticate(request: Request, ctx: AppContext) -> None:
    credentials = basic_auth(request) or ("", "")
    # Both compares always run, so timing tells nothing about which half was wrong.
    user_ok = secrets_match(credentials[0], ADDON_ID)
    password_ok = secrets_match(credentials[1], ctx.settings.addon_password)
    if not (user_ok and password_ok):
        raise Unauthorized(
            "authentication required", headers={"WWW-Authenticate": 'Basic realm="tracebin partner api"'}
        )


async def provision(request: Request) -> Response:
    ctx = get_context(request)
    _authenticate(request, ctx)
    body = await read_json_object(request, MAX_BODY)
    result = await provisioning.provision(ctx.db, ctx.settings, body)
    return JSONResponse({"id": result.resource.heroku_uuid, "config": result.config, "message": result.message})


async def change_plan(request: Request) -> Response:
    ctx = get_context(request)
    _authenticate(request, ctx)
    body = await read_json_object(request, MAX_BODY)
    result = await provisioning.change_plan(ctx.db, ctx.settings, request.path_params["id"], body)
    ctx.forget_resource(result.resource.id)
    return JSONResponse({"message": result.message, "config": result.config})


async def deprovision(request: Request) -> Response:
    ctx = get_context(request)
    _authenticate(request, ctx)
    resource = await provisioning.deprovision(ctx.db, request.path_params["id"])
    if resource is None:
        return Response(status_code=204)
    ctx.forget_resource(resource.id)
    # The key is already revoked; the data goes right after the reply (and a restart finishes it).
    return Response(status_code=204, background=BackgroundTask(provisioning.purge, ctx.db, resource))


routes: list[BaseRoute] = [
    Route("/heroku/resources", provision, methods=["POST"]),
    Route("/heroku/resources/{id}", change_plan, methods=["PUT"]),
    Route("/heroku/resources/{id}", deprovision, methods=["DELETE"]),
]
