"""Stack frames of a traceback: file names, context lines, in_app, locals."""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
from types import TracebackType
from typing import Any

from tracebin._values import frame_vars

CONTEXT_LINES = 5
MAX_FRAMES = 100  # of one exception; the middle of a deeper stack (recursion) is left out

_LIBRARY_DIRS = tuple(
    os.path.normcase(os.path.abspath(path)) + os.sep
    for path in {sysconfig.get_paths().get(name, "") for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    if path
)
_OWN_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__))) + os.sep


class FrameInfo:
    """Per-file facts that do not change between events, cached by absolute path."""

    __slots__ = ("abs_path", "filename", "library")

    def __init__(self, co_filename: str) -> None:
        abs_path = co_filename if co_filename.startswith("<") else os.path.abspath(co_filename)
        self.abs_path = abs_path
        norm = os.path.normcase(abs_path)
        self.library = (
            norm.startswith(_LIBRARY_DIRS)
            or norm.startswith(_OWN_DIR)
            or "site-packages" + os.sep in norm
            or "dist-packages" + os.sep in norm
            or abs_path.startswith("<")
        )
        self.filename = _short_name(abs_path)


def _short_name(abs_path: str) -> str:
    """The path as the app's authors know it: relative to the sys.path entry that holds it."""
    best = ""
    for entry in sys.path:
        entry = os.path.abspath(entry or os.curdir) + os.sep
        if abs_path.startswith(entry) and len(entry) > len(best):
            best = entry
    return abs_path[len(best) :] if best else abs_path


_info_cache: dict[str, FrameInfo] = {}


def _info(co_filename: str) -> FrameInfo:
    info = _info_cache.get(co_filename)
    if info is None:
        if len(_info_cache) > 5000:  # bounded: generated code can have endless names
            _info_cache.clear()
        info = _info_cache[co_filename] = FrameInfo(co_filename)
    return info


def _in_app(module: str | None, info: FrameInfo, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if module:
        if include and module.startswith(include):
            return True
        if exclude and module.startswith(exclude):
            return False
    return not info.library


def _context(abs_path: str, lineno: int, module_globals: dict[str, Any]) -> dict[str, Any]:
    lines = linecache.getlines(abs_path, module_globals)
    if not lines or not 0 < lineno <= len(lines):
        return {"context_line": None, "pre_context": [], "post_context": []}
    index = lineno - 1
    return {
        "context_line": lines[index].rstrip("\r\n"),
        "pre_context": [line.rstrip("\r\n") for line in lines[max(0, index - CONTEXT_LINES) : index]],
        "post_context": [line.rstrip("\r\n") for line in lines[index + 1 : index + 1 + CONTEXT_LINES]],
    }


def frames_of(
    tb: TracebackType | None,
    *,
    include_locals: bool,
    in_app_include: tuple[str, ...] = (),
    in_app_exclude: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The frames of `tb`, caller first, crashing frame last."""
    entries: list[tuple[Any, int]] = []
    while tb is not None:
        entries.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    if len(entries) > MAX_FRAMES:
        half = MAX_FRAMES // 2
        entries = entries[:half] + entries[-half:]
    frames = []
    for frame, lineno in entries:
        code = frame.f_code
        info = _info(code.co_filename)
        abs_path = info.abs_path
        module_globals = frame.f_globals
        module = module_globals.get("__name__")
        out: dict[str, Any] = {
            "filename": info.filename,
            "abs_path": abs_path,
            "function": getattr(code, "co_qualname", code.co_name),
            "module": module if isinstance(module, str) else None,
            "lineno": lineno,
            "colno": None,
            "in_app": _in_app(module if isinstance(module, str) else None, info, in_app_include, in_app_exclude),
        }
        out.update(_context(abs_path, lineno or 0, module_globals))
        if include_locals and code.co_name != "<module>":  # a module's locals are all its globals
            out["vars"] = frame_vars(frame.f_locals)
        frames.append(out)
    return frames
