"""A service-account key's full RSA validation (~27 ms of CPU) runs once per key in a process: the same key file
set up again (the demo fleet sets up one key for thousands of orgs) is not validated again; another key is."""

from __future__ import annotations

import pytest
from integrations.providers import gcp_service_account as gcp
from pydantic import SecretStr

from tests.keys import service_account_json


def test_the_same_key_is_validated_fully_once_and_another_key_again(monkeypatch: pytest.MonkeyPatch) -> None:
    full: list[bool] = []
    real = gcp.load_der_private_key

    def spy(der, password=None, unsafe_skip_rsa_key_validation=False):
        full.append(not unsafe_skip_rsa_key_validation)
        return real(der, password=password, unsafe_skip_rsa_key_validation=unsafe_skip_rsa_key_validation)

    monkeypatch.setattr(gcp, "load_der_private_key", spy)
    monkeypatch.setattr(gcp, "_VALIDATED", {})
    validator = gcp.GcpValidator("https://oauth2.googleapis.com/token", "https://bigquery.googleapis.com", 5)
    one, other = (
        service_account_json("a@p-123456.iam.gserviceaccount.com"),
        service_account_json("b@p-123456.iam.gserviceaccount.com"),
    )
    validator.parse(SecretStr(one))
    validator.parse(SecretStr(one))
    validator.parse(SecretStr(other))
    assert full == [True, False, True]
    assert not any(one in repr(k) for k in gcp._VALIDATED), "a digest is kept, never the key"
