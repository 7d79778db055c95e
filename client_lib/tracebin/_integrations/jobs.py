"""Background jobs in worker dynos: a scope per job; a failing job is captured and re-raised."""

from __future__ import annotations

import functools
import inspect
from types import TracebackType
from typing import Any, Callable, TypeVar, cast

from tracebin._integrations.wsgi import capture
from tracebin._scope import Scope, new_scope

F = TypeVar("F", bound=Callable[..., Any])


class job:  # used like a function: @tracebin.job() or with tracebin.job("name"):
    """Report exceptions of a background job, with the job's name as the `job` tag."""

    def __init__(self, name: str | None = None, **tags: Any) -> None:
        self.name = name
        self.tags = tags
        self._manager: Any = None
        self._scope: Scope | None = None

    def __enter__(self) -> Scope:
        self._manager = new_scope()
        scope: Scope = self._manager.__enter__()
        if self.name:
            scope.set_tag("job", self.name)
        for key, value in self.tags.items():
            scope.set_tag(key, value)
        self._scope = scope
        return scope

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception) and self._scope is not None:
            capture(exc, self._scope, "job")
        self._manager.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        name = self.name or getattr(fn, "__qualname__", "job")
        tags = self.tags
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with job(name, **tags):
                    return await fn(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with job(name, **tags):
                return fn(*args, **kwargs)

        return cast(F, run)
