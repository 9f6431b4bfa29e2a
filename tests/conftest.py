"""Shared fixtures. Tests import helpers from tests/ directly (rootdir on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# contract_checked_server: a MockServer whose traffic openapi-core validates (tests/_contract.py).
pytest_plugins = ["_contract"]
