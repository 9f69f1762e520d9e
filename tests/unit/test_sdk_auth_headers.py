"""The auth headers a check sends are the ones each SDK builds for the key, learned once from the SDK."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest
from integrations.providers.sdk_calls import auth_template

KEYS = ["sk-proj-" + "a" * 40, "sk-ant-api03-" + "b" * 40, "sk-admin-" + "c" * 30]


@pytest.mark.parametrize("client_class", [openai.OpenAI, anthropic.Anthropic])
@pytest.mark.parametrize("key", KEYS)
def test_template_builds_what_the_sdk_sends(client_class, key):
    client = client_class(api_key="placeholder", max_retries=0, http_client=httpx2.Client())
    assert auth_template(client)(key) == client.with_options(api_key=key).auth_headers
