"""Property tests: whatever comes in, only IntegrationError comes out, and nothing is written on error."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integrations import IntegrationError, Provider
from integrations.bootstrap import build_validators
from integrations.settings import Settings
from pydantic import SecretStr

from tests.conftest import fake_service
from tests.keys import service_account_json
from tests.security.conftest import record
from tests.servers import listener

VALIDATORS = build_validators(Settings(_env_file=None))
SVC = fake_service(attempts_per_minute=0)
SVC.register_org("acmecorp")
SA = json.loads(service_account_json("fuzz@p.iam.gserviceaccount.com"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
credentials = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=50),
    st.integers(),
    st.none(),
    st.from_regex(r"sk-(proj-|ant-api03-|svcacct-)?[A-Za-z0-9_\-]{0,60}", fullmatch=True),
    st.builds(lambda d: json.dumps(d), st.dictionaries(st.sampled_from(list(SA)), json_values)),
    st.builds(lambda extra: json.dumps(SA | extra), st.dictionaries(st.text(max_size=12), json_values, max_size=3)),
)
slugs = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9-]{1,62}", fullmatch=True),
    st.text(max_size=80),
    st.sampled_from(
        ["acmecorp", "../etc/passwd", "a'; DROP TABLE org_integrations;--", "acme\x00", "ACME", "ａｃｍｅ", "a" * 64]
    ),
)
providers = st.one_of(
    st.sampled_from(["openai", "ANTHROPIC", "Gcp", "azure", "", "open ai"]), st.text(max_size=12), st.integers()
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(provider=st.sampled_from(list(Provider)), credential=credentials)
def test_format_checks_raise_only_catalog_errors(provider: Provider, credential: object) -> None:
    record("fuzz cases run")
    text = credential if isinstance(credential, str) else str(credential)
    try:
        VALIDATORS[provider].parse(SecretStr(text))
    except IntegrationError as exc:
        assert exc.code == "MALFORMED_CREDENTIAL"
    except Exception:
        record("unexpected exceptions")
        raise


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    slug=slugs,
    provider=providers,
    credential=credentials,
    metadata=st.one_of(st.none(), json_values),
    name=st.one_of(st.none(), st.text(max_size=250)),
    skip=st.booleans(),
)
def test_setup_raises_only_catalog_errors_and_writes_nothing_on_error(
    slug, provider, credential, metadata, name, skip
) -> None:
    record("fuzz cases run")
    before = len(SVC.store.list_credentials(active_only=False))
    try:
        SVC.setup(slug, provider, credential, credential_name=name, metadata=metadata, skip_validation=skip)
    except IntegrationError:
        assert len(SVC.store.list_credentials(active_only=False)) == before
    except Exception:
        record("unexpected exceptions")
        raise


def test_gcp_json_attacks_are_refused_before_any_connection() -> None:
    with listener() as (evil, connections):
        attacks = {
            "token_uri elsewhere": json.dumps(SA | {"token_uri": f"{evil}/token"}),
            "universe elsewhere": json.dumps(SA | {"universe_domain": "evil.example"}),
            "external_account": json.dumps(
                {
                    "type": "external_account",
                    "audience": "x",
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                    "token_url": f"{evil}/token",
                    "credential_source": {"url": evil},
                }
            ),
            "10 MB": json.dumps(SA | {"padding": "x" * 10_000_000}),
            "deeply nested": "[" * 100_000 + "]" * 100_000,
            "nested under 16 KiB": "[" * 8000 + "]" * 8000,
        }
        svc = fake_service(
            attempts_per_minute=0,
            validation="live",
            google_token_uri=f"{evil}/token",
            bigquery_api_url=evil,
            allow_http_endpoints=True,
        )  # live: an accepted key WOULD connect to the listener
        svc.register_org("acmecorp")
        for attack in attacks.values():
            try:
                svc.setup("acmecorp", "gcp", attack)
                raise AssertionError("accepted")
            except IntegrationError as exc:
                assert exc.code == "MALFORMED_CREDENTIAL"
            record("GCP JSON attacks refused")
    assert connections == [] and svc.store.list_credentials(active_only=False) == []
