"""Who a copied per-user file belonged to, read from where it sits in the collection."""
from __future__ import annotations

import re

# KAPE-style and ChromiumArtifacts.ps1 copies keep the profile path: .../Users/<user>/AppData/...
_USERS_DIR = re.compile(r"(?:^|/)(?:users|documents and settings)/([^/]+)/(?:appdata|application data|local settings)/",
                        re.I)


def user_from_profile_path(path: str) -> str | None:
    """``…/Users/alice/AppData/…`` -> ``alice``; None when the path names no user profile."""
    m = _USERS_DIR.search(path)
    return m.group(1) if m else None
