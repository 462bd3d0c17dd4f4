"""Artifact parsers, one module per artifact family; importing them registers them."""
from __future__ import annotations

import importlib
import pkgutil

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True
