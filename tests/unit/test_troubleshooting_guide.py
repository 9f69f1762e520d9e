"""The troubleshooting guide has the integration document's three issues and hand tests that hold no key (that each
curl sends what the validator sends: tests/providers/test_hand_tests_curl.py)."""

from __future__ import annotations

import json
import re

import pytest
from integrations.domain import Provider
from integrations.troubleshooting import MANUAL_TESTS, WALKTHROUGHS, manual_tests, walkthroughs_for

TITLES = [
    "Organization API key not found",
    "Validation failed for a valid credential",
    "Integration status not updating in UI",
]


def test_the_documents_three_issues_have_causes_and_solutions() -> None:
    guides = {w.title: w for w in WALKTHROUGHS}
    assert list(guides)[:3] == TITLES
    for title in TITLES:
        assert len(guides[title].causes) >= 3 and len(guides[title].steps) >= 3
    assert {t.provider for t in guides[TITLES[1]].manual_tests} == set(Provider)
    assert "warnings" in " ".join(guides[TITLES[2]].causes)
    assert guides[list(guides)[3]].codes[0] == "GCP_KEY_CREATION_DISABLED"  # keyless GCP's walkthrough


def test_no_hand_test_holds_a_key_inline() -> None:
    for test in MANUAL_TESTS:
        assert "$KEY" in test.command and not re.search(r"sk-[A-Za-z0-9_-]{20,}", test.command)


def test_the_gcp_curl_asks_for_the_three_permissions() -> None:
    [gcp] = manual_tests("gcp")
    body = gcp.command.split("-d '")[1].rstrip("'")
    assert json.loads(body) == {"permissions": ["bigquery.datasets.get", "bigquery.tables.get", "bigquery.jobs.create"]}
    assert ":testIamPermissions" in gcp.command and "Bearer $KEY" in gcp.command


@pytest.mark.parametrize("provider", list(Provider))
def test_the_walkthroughs_for_a_provider_name_no_other_providers_causes_or_tests(provider: Provider) -> None:
    """An Anthropic key's troubleshooting does not list OpenAI scopes, GCP roles or their tests by hand."""
    others = [p for p in Provider if p != provider]
    words = {Provider.OPENAI: "openai", Provider.ANTHROPIC: "anthropic", Provider.GCP: "gcp"}
    for guide in walkthroughs_for(provider):
        assert all(t.provider == provider for t in guide.manual_tests), guide.title
        for line in guide.causes + guide.steps:
            named = {p for p in others if words[p] in line.lower()}
            assert not named or words[provider] in line.lower(), (guide.title, line)
    titles = [w.title for w in walkthroughs_for(provider)]
    assert ("GCP without a key file (keyless) stays PENDING or fails" in titles) == (provider == Provider.GCP)
