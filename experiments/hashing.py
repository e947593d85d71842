"""Short stable hashes of JSON values: run ids, project keys, the names of cached projects and of job folders."""

from __future__ import annotations

import hashlib
from typing import Any


def short_hash(value: Any, length: int = 12) -> str:
    import json

    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
