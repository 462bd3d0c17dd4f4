"""Helpers for the raw-artifact tests (ipconfig, Defender, PSReadLine, browsers): build a small
DFIR-<HOST>-<date> folder from exact bytes or corpus files, convert it, read the tables back."""
from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.dataset as ds

import triageparse

ROOT_NAME = "DFIR-TESTHOST-2024-03-01"


def convert_files(tmp_path: Path, files: dict[str, bytes | Path], **options) -> dict[str, list[dict]]:
    """Write ``files`` (relative path -> bytes, or a file to copy) under one collection folder,
    convert it and return every written table as a list of row dicts."""
    root = tmp_path / "src" / ROOT_NAME
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_bytes(content)
    out = tmp_path / "out"
    triageparse.convert([root], out, **options)
    tables = {}
    for folder in out.iterdir():
        if folder.is_dir() and any(folder.glob("*.parquet")):
            tables[folder.name] = ds.dataset(folder, format="parquet").to_table().to_pylist()
    return tables


def file_rows(tables: dict[str, list[dict]], rel: str) -> dict:
    """The CollectedFile row of one member."""
    [row] = [r for r in tables["CollectedFile"] if r["SourceFile"] == rel]
    return row


def issues(tables: dict[str, list[dict]], rel: str | None = None) -> list[dict]:
    return [r for r in tables.get("ParseIssue", []) if rel is None or r["SourceFile"] == rel]
