"""Readiness: the store and the status cache answer, the keyring holds the recorded key versions."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from .. import keyversions
from ..deps import Deps
from ..store.base import IntegrationStore
from .reads import overview

PROBE_MAX_AGE_S = 30.0  # a probe's "ready" is reused this long: each answer costs 2 BigQuery jobs + a cache read

_lock = threading.Lock()
_ready: weakref.WeakKeyDictionary[IntegrationStore, tuple[float, dict[str, Any], object]] = weakref.WeakKeyDictionary()


def readiness(deps: Deps, max_age_s: float = 0.0) -> dict[str, Any]:
    """Raise the catalog error of the first part that is not ready; otherwise the backends and the drift count.
    With `max_age_s`, a "ready" answered less than that ago for the same store is returned again (a readiness
    probe every few seconds would otherwise pay a store ping and the overview each time); a failure is never
    reused, so a part that breaks is reported as soon as the reused answer is older than `max_age_s`. The local
    keyring file is looked at every time (a stat): an answer is reused only for the keyring file it checked."""
    try:
        keys = deps.cipher.source_state()  # one stat of the keyring file: a deleted or replaced one is seen at once
        if max_age_s > 0:
            with _lock:
                hit = _ready.get(deps.store)
            if hit and time.monotonic() - hit[0] < max_age_s and hit[2] == keys:
                return dict(hit[1], checked_s_ago=round(time.monotonic() - hit[0], 1))
        deps.store.ping()
        deps.cache.ping()
        keyversions.verify(deps.store, deps.cipher)
        drift = int(overview(deps)["drift"].sum())
    except Exception:
        with _lock:  # what was ready is no more: no later probe may be answered from before the failure
            _ready.pop(deps.store, None)
        raise
    answer = {"status": "ready", "store": deps.store.name, "status_cache": deps.cache.name, "drift": drift}
    with _lock:
        _ready[deps.store] = (time.monotonic(), answer, keys)
    return dict(answer, checked_s_ago=0.0)
