"""Artifact parsers, one module per artifact family; importing them registers them."""
from __future__ import annotations

import contextlib
import importlib
import pkgutil
import threading

_loaded = False
_lock = threading.Lock()
_background: threading.Thread | None = None


def load_all() -> None:
    global _loaded
    with _lock:         # convert() may already be loading them on a thread of its own
        if _loaded:
            return
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            if info.name != "base":
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def _load_all_and_pandas() -> None:
    load_all()
    # pyarrow imports pandas (~0.25 s) on its first pa.array of a Python list anyway, unless the process
    # keeps it out (arrays.keep_pandas_out)
    with contextlib.suppress(ImportError):
        import pandas  # noqa: F401


def load_all_in_background() -> threading.Thread:
    """Import the parsers, and pandas, on a thread: ~0.4 s of imports that then overlap the sha256
    of the first source (hashing releases the GIL) instead of following it."""
    global _background
    thread = threading.Thread(target=_load_all_and_pandas, name="triageparse-imports", daemon=True)
    thread.start()
    _background = thread
    return thread


def wait_for_background_imports() -> None:
    """Before a fork: a child must not start with a module half imported by a thread it does not have."""
    if _background is not None:
        _background.join()
