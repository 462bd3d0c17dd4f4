"""triageparse: Windows triage collections into typed, ADX-ready Parquet tables."""
from __future__ import annotations

__version__ = "0.1.0"

from .convert import Summary, convert  # noqa: E402
from .kql import hunt, query  # noqa: E402
from .load import load  # noqa: E402
from .adx import ingest  # noqa: E402  (the SDK is imported only when ingest is called)

__all__ = ["convert", "Summary", "__version__", "load", "query", "hunt", "ingest"]
