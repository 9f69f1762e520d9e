"""The SQLite adapters read the overview's two frames directly; they must equal the port defaults (built from
records and org rows), which every other adapter uses."""

from __future__ import annotations

import pandas as pd
from integrations import IntegrationService, Provider, Status
from integrations.overview import orgs_frame, overview_frame, records_frame

from tests.conftest import ORG
from tests.keys import ANTHROPIC_OK, anthropic_key, openai_key


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


def test_an_org_missing_from_the_cache_still_gets_its_rows() -> None:
    from tests.conftest import fake_service

    svc = fake_service()
    svc.register_org("acme")
    svc.setup("acme", "openai", openai_key(), skip_validation=True)
    del svc.cache.orgs["acme"]
    frame = svc.overview()
    assert len(frame) == 3 and frame.drift.all() and frame.cached_status.isna().all()
    assert frame.org_name.isna().all() and frame.set_index("provider").loc["OPENAI"].status != "NOT_CONFIGURED"
