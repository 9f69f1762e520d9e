"""The overview merges the store's and the cache's frames; an org the cache lacks still gets its rows. (Each
adapter's frames against the port defaults: tests/contract; the local profile's: tests/adapters/test_local_profile)"""

from __future__ import annotations

from tests.keys import openai_key


def test_an_org_missing_from_the_cache_still_gets_its_rows() -> None:
    from tests.conftest import fake_service

    svc = fake_service()
    svc.register_org("acme")
    svc.setup("acme", "openai", openai_key(), skip_validation=True)
    del svc.cache.orgs["acme"]
    frame = svc.overview()
    assert len(frame) == 3 and frame.drift.all() and frame.cached_status.isna().all()
    assert frame.org_name.isna().all() and frame.set_index("provider").loc["OPENAI"].status != "NOT_CONFIGURED"
