"""Readiness: the store and the status cache answer, the keyring holds the recorded key versions."""

from __future__ import annotations

from typing import Any

from .. import keyversions
from ..deps import Deps
from .reads import overview


def readiness(deps: Deps) -> dict[str, Any]:
    """Raise the catalog error of the first part that is not ready; otherwise the backends and the drift count."""
    deps.store.ping()
    deps.cache.ping()
    keyversions.verify(deps.store, deps.cipher)
    drift = int(overview(deps)["drift"].sum())
    return {"status": "ready", "store": deps.store.name, "status_cache": deps.cache.name, "drift": drift}
