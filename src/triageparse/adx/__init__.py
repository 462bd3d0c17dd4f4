"""Azure Data Explorer: ingest a triageparse output folder, drop a collection, external-table commands.

The SDK (azure-kusto-data, azure-kusto-ingest) is the optional extra ``adx``; it is imported only
when ADX is used, so ``triageparse convert`` works without it.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from .connect import AUTH_MODES, ConfigError  # noqa: F401  (no SDK needed for these)

_LAZY = {"IngestReport", "DropReport", "IngestError", "Retry"}


def _run_module():
    try:
        return importlib.import_module(".run", __name__)
    except ImportError as exc:
        if exc.name and exc.name.startswith("azure"):
            raise ImportError("ADX ingestion needs the adx extra: pip install 'triageparse[adx]'") from exc
        raise


def ingest(out: str | Path, **options):
    """Ingest the Parquet of a triageparse output folder into ADX; see ``triageparse.adx.run.ingest``."""
    return _run_module().ingest(out, **options)


def drop(**options):
    """Drop collections from ADX by their drop-by tag; see ``triageparse.adx.run.drop``."""
    return _run_module().drop(**options)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(_run_module(), name)
    raise AttributeError(name)
