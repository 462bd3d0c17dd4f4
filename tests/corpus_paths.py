"""Where the corpus lives (a plain module: tests/adx has a conftest too, so never import `conftest`)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    return Path(os.environ.get("TRIAGEPARSE_CORPUS", ROOT.parent / "shared" / "corpus"))
