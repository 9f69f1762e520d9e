"""Readiness: the store and the status cache answer, the keyring holds the recorded key versions; drift between
the status cache and the store that outlasts DRIFT_GRACE_S is repaired (reconcile) by the probe that sees it."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from .. import keyversions
from ..deps import Deps
from ..errors import IntegrationError
from ..store.base import IntegrationStore
from .maintenance import reconcile
from .reads import overview

PROBE_MAX_AGE_S = 30.0  # a probe's "ready" is reused this long: each answer costs 2 BigQuery jobs + a cache read
# drift seen this long is repaired: longer than a write's store-then-cache gap (milliseconds), so a sync in flight
# is not raced; so drift is repaired within PROBE_MAX_AGE_S + DRIFT_GRACE_S + the probe interval of appearing
DRIFT_GRACE_S = 10.0

_lock = threading.Lock()
_ready: weakref.WeakKeyDictionary[IntegrationStore, tuple[float, dict[str, Any], object]] = weakref.WeakKeyDictionary()
_drift_since: weakref.WeakKeyDictionary[IntegrationStore, float] = weakref.WeakKeyDictionary()
_repairing = threading.Lock()


def repair_drift(deps: Deps, drift: int, grace_s: float | None = None) -> int:
    """Reconcile when drift has been seen for `grace_s` (by this probe and an earlier one); how many rows it fixed.
    Writers in other processes can leave the cache behind the store (a sync that failed or raced): this bounds how
    long the frontend shows a state the store no longer holds."""
    now, grace_s = time.monotonic(), DRIFT_GRACE_S if grace_s is None else grace_s
    with _lock:
        if not drift:
            _drift_since.pop(deps.store, None)
            return 0
        since = _drift_since.setdefault(deps.store, now)
    if now - since < grace_s or not _repairing.acquire(blocking=False):
        return 0
    try:
        fixed = reconcile(deps, actor="readyz").fixed
    except IntegrationError:
        return 0  # the next probe tries again; reconcile's own failure is not the service's readiness
    finally:
        _repairing.release()
    with _lock:
        _drift_since.pop(deps.store, None)
    return fixed


def readiness(deps: Deps, max_age_s: float = 0.0, grace_s: float | None = None) -> dict[str, Any]:
    """Raise the catalog error of the first part that is not ready; otherwise the backends and the drift count.
    With `max_age_s`, a "ready" answered less than that ago for the same store is returned again (a readiness
    probe every few seconds would otherwise pay a store ping and the overview each time); a failure is never
    reused, so a part that breaks is reported as soon as the reused answer is older than `max_age_s`. The local
    keyring file is looked at every time (a stat): an answer is reused only for the keyring file it checked.
    Drift seen for `grace_s` is repaired (`repair_drift`); `drift` is what is left, `drift_repaired` what was
    fixed."""
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
    repaired = repair_drift(deps, drift, grace_s)
    answer = {"status": "ready", "store": deps.store.name, "status_cache": deps.cache.name, "drift": drift - repaired}
    answer["drift_repaired"] = repaired
    with _lock:
        _ready[deps.store] = (time.monotonic(), answer, keys)
    return dict(answer, checked_s_ago=0.0)
