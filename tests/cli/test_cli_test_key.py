"""Issue 27: `integrations test ORG PROVIDER` checks a key with its provider without saving it; the key is read
from stdin or a file only and appears in no output."""

from __future__ import annotations

from integrations import connect

from tests.cli.test_cli import as_json, env, run  # noqa: F401  (env: the fixture)
from tests.keys import CANARY, openai_key


def test_test_checks_without_saving_and_prints_no_key(env: dict[str, str]) -> None:  # noqa: F811
    assert run("org", "create", "acmecorp")[0] == 0
    code, body = as_json("test", "acmecorp", "openai", "--credential-stdin", input=CANARY)
    assert code == 0 and body["outcome"] == "VALID" and "nothing was stored" in body["message"]
    code, text = run("test", "acmecorp", "openai", "--credential-stdin", input=openai_key("revoked"))
    assert code == 1 and "Invalid:" in text and "INVALID_CREDENTIAL" in text and "Fix:" in text
    code, text = run("test", "acmecorp", "openai", "--credential-stdin", input="nonsense")
    assert code == 1 and "MALFORMED_CREDENTIAL" in text
    assert CANARY not in text and CANARY[8:] not in str(body)
    svc = connect()
    assert svc.get_one("acmecorp", "openai").credential_id is None  # nothing stored
    events = svc.events("acmecorp")
    assert list(events[events.action == "TEST"].outcome) == ["REJECTED", "REJECTED", "SUCCESS"]
    assert CANARY[8:] not in events.to_json()
