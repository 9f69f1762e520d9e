"""The troubleshooting guide's hand tests are exact: each curl, run with the key in $KEY against a local server,
sends what the validator itself sends for that kind."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from urllib.parse import parse_qs

import pytest
from integrations.providers.anthropic_keys import AnthropicValidator
from integrations.providers.openai_keys import OpenAIValidator
from integrations.troubleshooting import manual_tests
from pydantic import SecretStr

from tests.keys import ANTHROPIC_ADMIN, ANTHROPIC_OK, OPENAI_ADMIN, OPENAI_OK
from tests.servers import Reply, serve


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
    [hand], [check] = by_hand, [c for c in by_check if "api_keys" not in c.path]  # expiry: its own read
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
