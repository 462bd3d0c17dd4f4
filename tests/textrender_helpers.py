"""Converting a small collection written from exact bytes, and reading back what it produced."""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pyarrow.dataset as ds

import triageparse

from psbytes import write_collection


def convert_files(tmp_path: Path, files: dict[str, bytes], host: str = "WS01", date: str = "2025-10-02",
                  culture: str | None = "en-US") -> tuple[triageparse.Summary, Path]:
    root = write_collection(tmp_path / f"DFIR-{host}-{date}", files)
    out = tmp_path / "out"
    return triageparse.convert([root], out, culture=culture, timezone="UTC"), out


def rows(out: Path, table: str) -> list[dict]:
    """Rows of one output table, ordered by file and record."""
    path = out / table
    if not path.exists():
        return []
    got = ds.dataset(path, format="parquet").to_table().to_pylist()
    return sorted(got, key=lambda r: (r.get("SourceFile") or "", r.get("SourceRecord") or 0))


def issues(out: Path) -> list[dict]:
    return rows(out, "ParseIssue")


def files(out: Path) -> dict[str, dict]:
    return {r["SourceFile"]: r for r in rows(out, "CollectedFile")}


def pad(text: str, cells: int) -> str:
    """``text`` padded with spaces to ``cells`` console cells (East-Asian wide characters count 2)."""
    width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * (cells - width)
