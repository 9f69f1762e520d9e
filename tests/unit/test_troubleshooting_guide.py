"""The troubleshooting guide has the integration document's three issues and hand tests that hold no key (that each
curl sends what the validator sends: tests/providers/test_hand_tests_curl.py)."""

from __future__ import annotations

import json
import re

from integrations.domain import Provider
from integrations.troubleshooting import MANUAL_TESTS, WALKTHROUGHS, manual_tests

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
