"""Shared fixtures: the corpus of real artifacts and the sample data.

Under CI (CI=true) a missing corpus is a failure, never a skip.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from corpus_paths import ROOT, corpus_dir

SAMPLE_DATA = ROOT / "sample_data"


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if not (path / "MANIFEST.json").is_file():
        message = f"corpus not found at {path} (set TRIAGEPARSE_CORPUS)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def manifest(corpus) -> list[dict]:
    return json.loads((corpus / "MANIFEST.json").read_text())


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return SAMPLE_DATA
