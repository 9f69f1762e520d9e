"""Opt-in: the store, cipher and status-cache contracts against a real Google Cloud project, KMS key and Supabase
(`pytest -m cloud`). Each class is skipped unless its variables are set; see README "Running on Google Cloud".

- INTEGRATIONS_TEST_GCP_PROJECT (+ INTEGRATIONS_TEST_BIGQUERY_LOCATION): each test creates a throwaway dataset
  `integrations_test_<random>` and deletes it with its contents afterwards (needs bigquery.datasets.create and
  .delete, e.g. BigQuery Data Editor and Job User on the project).
- INTEGRATIONS_TEST_KMS_KEY and INTEGRATIONS_TEST_KMS_MAC_KEY_VERSION: an existing test key (KMS keys cannot be
  deleted, so none is created); only Encrypt, Decrypt and MacSign are called.
- INTEGRATIONS_TEST_SUPABASE_URL and INTEGRATIONS_TEST_SUPABASE_SERVICE_ROLE_KEY: a throwaway Supabase project
  or branch with the migration applied, never production; the org rows the tests create are deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from integrations.crypto.base import Cipher
from integrations.status_cache.base import StatusCache
from integrations.store.base import IntegrationStore
from pydantic import SecretStr

from tests.contract.test_cipher import CipherContract
from tests.contract.test_status_cache import StatusCacheContract
from tests.contract.test_store import StoreContract

pytestmark = pytest.mark.cloud


def _env(*names: str) -> pytest.MarkDecorator:
    missing = [n for n in names if not os.environ.get(n)]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")


@_env("INTEGRATIONS_TEST_GCP_PROJECT")
@pytest.mark.bigquery
class TestLiveBigQueryStore(StoreContract):
    def make(self, tmp_path: Path) -> IntegrationStore:  # pragma: no cover - needs a cloud project
        raise NotImplementedError  # the store fixture below builds it, with its cleanup

    @pytest.fixture
    def store(self, request: pytest.FixtureRequest) -> IntegrationStore:  # pragma: no cover
        from google.cloud import bigquery
        from integrations.store.bigquery import BigQueryStore

        project = os.environ["INTEGRATIONS_TEST_GCP_PROJECT"]
        location = os.environ.get("INTEGRATIONS_TEST_BIGQUERY_LOCATION")
        client = bigquery.Client(project=project, location=location)
        dataset = f"integrations_test_{uuid.uuid4().hex[:8]}"
        request.addfinalizer(
            lambda: client.delete_dataset(f"{project}.{dataset}", delete_contents=True, not_found_ok=True)
        )
        store = BigQueryStore(client, project, dataset, timeout=60, location=location)
        store.init()
        store.init()  # idempotent: the second finds everything and creates nothing
        return store


@_env("INTEGRATIONS_TEST_KMS_KEY", "INTEGRATIONS_TEST_KMS_MAC_KEY_VERSION")
class TestLiveKmsCipher(CipherContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> Cipher:  # pragma: no cover
        from integrations.crypto.gcp_kms import KmsCipher

        return KmsCipher.connect(
            os.environ["INTEGRATIONS_TEST_KMS_KEY"], os.environ["INTEGRATIONS_TEST_KMS_MAC_KEY_VERSION"], timeout=10
        )


@_env("INTEGRATIONS_TEST_SUPABASE_URL", "INTEGRATIONS_TEST_SUPABASE_SERVICE_ROLE_KEY")
class TestLiveSupabaseStatusCache(StatusCacheContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> StatusCache:  # pragma: no cover
        from integrations.status_cache.supabase import SupabaseStatusCache
        from supabase import create_client

        url, key = (
            os.environ["INTEGRATIONS_TEST_SUPABASE_URL"],
            os.environ["INTEGRATIONS_TEST_SUPABASE_SERVICE_ROLE_KEY"],
        )
        admin = create_client(url, key).table("organizations")
        before = {r["org_slug"] for r in admin.select("org_slug").execute().data}

        def remove_created() -> None:
            now = {r["org_slug"] for r in admin.select("org_slug").execute().data}
            if now - before:
                admin.delete().in_("org_slug", sorted(now - before)).execute()

        request.addfinalizer(remove_created)
        return SupabaseStatusCache(url, SecretStr(key), timeout=10)
