"""Advice for the key at hand (issue 27): the catalog's causes and fixes narrowed to the provider and the kind of
key, and told differently for a key that was never stored."""

from __future__ import annotations

from integrations.troubleshooting import advice


def test_an_anthropic_admin_key_gets_neither_openai_nor_gcp_causes() -> None:
    told = advice("INSUFFICIENT_PERMISSIONS", "anthropic", "ADMIN")
    text = " ".join(told.causes + told.fixes)
    assert "Admin key" in text and "OpenAI" not in text and "GCP" not in text


def test_a_gcp_key_gets_no_admin_key_causes() -> None:
    told = advice("INSUFFICIENT_PERMISSIONS", "gcp")
    assert told.causes and all("Admin key" not in c for c in told.causes)
    assert any("roles/bigquery" in f for f in told.fixes)


def test_a_key_never_stored_is_not_told_to_re_validate() -> None:
    told = advice("INSUFFICIENT_PERMISSIONS", "openai", "PROJECT", stored=False)
    assert not any("re-validate" in f.lower() for f in told.fixes)
    assert any("save it again" in f for f in told.fixes)


def test_a_network_error_offers_storing_as_pending_and_a_failed_rotation_keeps_the_key() -> None:
    told = advice("NETWORK_ERROR", "openai", "PROJECT", stored=False, rotation=True)
    assert any("skip_validation" in f and "PENDING" in f for f in told.fixes)
    assert any("current key is unchanged" in n for n in told.notes)
    assert not advice("NETWORK_ERROR", "openai", stored=True).fixes[-1].startswith("The key could not")


def test_the_guide_offers_skip_validation_and_no_404_the_api_cannot_answer() -> None:
    from integrations.troubleshooting import guide

    text = guide()
    assert "skip_validation=true" in text and "PENDING" in text
    assert "404 ORG_NOT_FOUND" not in text
