"""triageparse: Windows triage collections into typed, ADX-ready Parquet tables.

The public API: ``convert``, ``load``, ``query``, ``hunt``, ``ingest``. Analysis and ADX modules are
imported on first use, so a conversion does not pay for pandas, DuckDB-KQL or the Kusto SDK.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .convert import Summary, convert  # noqa: E402

__all__ = ["convert", "Summary", "__version__", "load", "query", "hunt", "ingest"]

_LAZY = {"load": ".frames", "query": ".kql", "hunt": ".kql", "ingest": ".adx"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'triageparse' has no attribute {name!r}")
