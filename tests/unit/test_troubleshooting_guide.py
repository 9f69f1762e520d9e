"""The troubleshooting guide has the integration document's three issues, and its hand tests are exact: each
curl, run with the key in $KEY against a local server, sends what the validator itself sends for that kind."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime
from urllib.parse import parse_qs

import pytest
from integrations.domain import Provider
from integrations.providers.api_keys import AnthropicValidator, OpenAIValidator
from integrations.troubleshooting import MANUAL_TESTS, WALKTHROUGHS, manual_tests, walkthrough_frame
from pydantic import SecretStr

from tests.keys import ANTHROPIC_ADMIN, ANTHROPIC_OK, OPENAI_ADMIN, OPENAI_OK
from tests.servers import Reply, serve

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
    assert list(walkthrough_frame().title) == TITLES


def test_no_hand_test_holds_a_key_inline() -> None:
    for test in MANUAL_TESTS:
        assert "$KEY" in test.command and not re.search(r"sk-[A-Za-z0-9_-]{20,}", test.command)


def _seconds(value: str) -> float:
    return float(value) if value.isdigit() else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _run_against(command: str, base_url: str, key: str) -> None:
    for host in ("https://api.openai.com", "https://api.anthropic.com"):
        command = command.replace(host, base_url)
    done = subprocess.run(
        ["bash", "-c", command], env={**os.environ, "KEY": key}, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("provider", "index", "key"),
    [
        ("OPENAI", 0, OPENAI_OK),
        ("OPENAI", 1, OPENAI_ADMIN),
        ("ANTHROPIC", 0, ANTHROPIC_OK),
        ("ANTHROPIC", 1, ANTHROPIC_ADMIN),
    ],
)
def test_each_curl_sends_what_the_validator_sends(provider: str, index: int, key: str) -> None:
    test = manual_tests(provider)[index]
    with serve(lambda s: Reply(200, {"data": []})) as (url, by_hand):
        _run_against(test.command, url, key)
    with serve(lambda s: Reply(200, {"data": []})) as (url, by_check):
        if provider == "OPENAI":
            validator = OpenAIValidator(f"{url}/v1", timeout=2)
        else:
            validator = AnthropicValidator(url, timeout=2)
        assert validator.check(validator.parse(SecretStr(key))).error_code is None
    [hand], [check] = by_hand, by_check
    assert (hand.method, hand.path.split("?")[0]) == (check.method, check.path.split("?")[0])
    assert f"Bearer {key}" in (hand.headers.get("authorization"), check.headers.get("authorization"))
    assert key in (hand.headers.get("authorization", "") + hand.headers.get("x-api-key", ""))
    hand_query, check_query = parse_qs(hand.path.partition("?")[2]), parse_qs(check.path.partition("?")[2])
    assert hand_query.get("limit") == check_query.get("limit")
    for window in ("start_time", "starting_at"):  # the same one-day window, give or take the seconds between
        if window in check_query:
            assert abs(_seconds(hand_query[window][0]) - _seconds(check_query[window][0])) < 60
    if provider == "ANTHROPIC":
        assert "anthropic-version" in hand.headers and "anthropic-version" in check.headers  # required by the API


def test_the_gcp_curl_asks_for_the_three_permissions() -> None:
    [gcp] = manual_tests("gcp")
    body = gcp.command.split("-d '")[1].rstrip("'")
    assert json.loads(body) == {"permissions": ["bigquery.datasets.get", "bigquery.tables.get", "bigquery.jobs.create"]}
    assert ":testIamPermissions" in gcp.command and "Bearer $KEY" in gcp.command
