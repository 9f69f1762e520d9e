"""The service on the real local profile (SQLite store and status cache, the local keyring) in a temporary data dir:
what only real adapters show (query counts, an interrupted rewrap on files, the overview's direct frames)."""

from __future__ import annotations

import pandas as pd
import pytest
from integrations import IntegrationService, Provider, Status
from integrations.overview import orgs_frame, overview_frame, records_frame
from integrations.usecases import maintenance

from tests.conftest import ORG
from tests.keys import ANTHROPIC_OK, anthropic_key, openai_key


def test_overview_one_query_each_side(local_svc: IntegrationService) -> None:
    svc = local_svc
    for i in range(20):
        svc.register_org(f"org-{i:02d}")
        svc.setup(f"org-{i:02d}", "openai", openai_key(), skip_validation=True)
    store_before, cache_before = svc.store.queries, svc.cache.queries
    frame = svc.overview()
    assert len(frame) == 21 * 3
    assert (svc.store.queries - store_before, svc.cache.queries - cache_before) == (1, 1)


def test_rewrap_resumes_after_interruption(local_svc: IntegrationService, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = local_svc
    for i in range(6):
        svc.register_org(f"org-{i}")
        svc.setup(f"org-{i}", "openai", openai_key())
    new_ref = svc.cipher.rotate()
    monkeypatch.setattr(maintenance, "REWRAP_BATCH", 3)  # two writes of three swaps
    original = svc.store.replace_ciphertexts
    calls = {"n": 0}

    def dying(swaps):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C mid-run, before the second write
        return original(swaps)

    monkeypatch.setattr(svc.store, "replace_ciphertexts", dying)
    with pytest.raises(KeyboardInterrupt):
        svc.rewrap()
    monkeypatch.setattr(svc.store, "replace_ciphertexts", original)
    assert all(svc.validate(f"org-{i}", "openai").success for i in range(6))  # every row still decrypts
    report = svc.rewrap()
    assert report.rewrapped == 3 and report.already_current == 3
    assert {r.key_ref for r in svc.store.list_credentials()} == {new_ref}


def test_sqlite_frames_equal_the_port_defaults(local_svc: IntegrationService) -> None:
    svc = local_svc
    svc.setup(ORG, "anthropic", ANTHROPIC_OK, credential_name="Claude prod")
    for slug in ("b-org", "c-org"):
        svc.register_org(slug, name=slug.upper())
    svc.setup("b-org", "openai", openai_key("revoked"), skip_validation=True)
    svc.validate("b-org", "openai")  # INVALID, with an error code
    svc.setup("b-org", "anthropic", anthropic_key(), skip_validation=True)
    svc.cache.set_status("c-org", Provider.GCP, Status.VALID, None)  # drift: cached, not recorded
    svc.cache.create_org("d-org")
    fast = overview_frame(svc.store.active_frame(), svc.cache.status_frame())
    slow = overview_frame(records_frame(svc.store.list_credentials()), orgs_frame(svc.cache.all_orgs()))
    pd.testing.assert_frame_equal(
        fast.drop(columns="validation_age_days"), slow.drop(columns="validation_age_days"), check_dtype=False
    )
    assert (fast.validation_age_days.fillna(-1) - slow.validation_age_days.fillna(-1)).abs().max() < 1e-3
    by = fast.set_index(["org_slug", "provider"])
    assert by.loc[("b-org", "OPENAI")].status == "INVALID" and by.loc[("b-org", "OPENAI")].error_code
    assert bool(by.loc[("c-org", "GCP")].drift) and by.loc[("c-org", "GCP")].cached_status == "VALID"
    assert by.loc[(ORG, "ANTHROPIC")].has_ciphertext and not by.loc[("d-org", "OPENAI")].has_ciphertext
    assert len(fast) == 4 * 3
