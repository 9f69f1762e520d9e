"""Issue 27, the reviewer's walk of the CLI: each defect reproduced (it failed on the code before the fix)."""

from __future__ import annotations

import pytest

from tests.cli.test_cli import as_json, env, run  # noqa: F401  (env: the fixture)


def test_revalidate_refuses_an_unknown_or_invalid_org_and_runs_nothing(env: dict[str, str]) -> None:  # noqa: F811
    """#2: `revalidate --org nosuchorg` was `0 checked`, exit 0; `--org globex --org nosuch` checked globex."""
    from integrations import connect

    assert run("demo")[0] == 0
    before = len(connect().events("globex"))
    code, output = run("revalidate", "--org", "nosuchorg")
    assert code == 1 and "ORG_NOT_FOUND" in output and "checked" not in output
    code, body = as_json("revalidate", "--org", "[red]X")
    assert code == 1 and body["error"]["code"] == "INVALID_ORG_SLUG"
    code, body = as_json("revalidate", "--org", "globex", "--org", "nosuch")
    assert code == 1 and body["error"]["code"] == "ORG_NOT_FOUND" and "nosuch" in body["error"]["message"]
    assert len(connect().events("globex")) == before  # nothing was run
    from integrations.errors import IntegrationError

    for orgs, code in ((["globex", "nosuch"], "ORG_NOT_FOUND"), (["[red]X"], "INVALID_ORG_SLUG")):
        with pytest.raises(IntegrationError) as refused:  # the library refuses them too, not only the CLI
            connect().revalidate_many(orgs=orgs)
        assert refused.value.code == code
    assert len(connect().events("globex")) == before
    code, body = as_json("revalidate", "--org", "globex")
    assert code == 0 and body["checked"] >= 1


def test_an_inconclusive_validate_leads_with_inconclusive_and_the_kept_status(
    env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#6: it printed `VALID: Inconclusive: OpenAI could not be reached ...`, the old status first."""
    assert run("demo")[0] == 0
    monkeypatch.setenv("INTEGRATIONS_SANDBOX_OUTAGE", "openai")
    code, output = run("validate", "stark-industries", "openai")
    assert code == 1
    assert output.startswith("Inconclusive (status unchanged: Valid): OpenAI could not be reached"), output
    assert "NETWORK_ERROR" in output and "integrations diagnose stark-industries openai" in output
    code, body = as_json("validate", "stark-industries", "openai")
    assert code == 1 and body["validation_status"] == "VALID" and body["error"]["code"] == "NETWORK_ERROR"


def test_task_and_finalize_reports_are_tables_not_python_dicts(env: dict[str, str]) -> None:  # noqa: F811
    """#13: `by outcome {'VALID': 106, ...}; by task {0: 57, 1: 56}` and task lines ending in a raw dict."""
    assert run("demo")[0] == 0
    for index in ("0", "1"):
        code, output = run("revalidate", "--task-index", index, "--task-count", "2", "--run-id", "nightly-1")
        assert code == 0 and f"run nightly-1 task {index}/2" in output and "share" in output
        assert "{" not in output and "'" not in output, output
    code, output = run("revalidate", "finalize", "--run-id", "nightly-1")
    assert code == 0 and "run nightly-1 finalized" in output and "task 0: " in output and "task 1: " in output
    assert "Valid " in output and "{" not in output and "'" not in output, output
    code, body = as_json("revalidate", "finalize", "--run-id", "nightly-1")  # --json unchanged
    assert code == 0 and set(body["by_task"]) == {"0", "1"} and "VALID" in body["outcomes"]


def test_status_at_80_columns_piped_cuts_nothing_and_times_are_to_the_second(env: dict[str, str]) -> None:  # noqa: F811
    """#14: piped at 80 columns `status` cut codes and hints (INVALID..., sk-proj...); microsecond times; a Python
    bool for all valid; `key list --json` times not in ISO Z."""
    import re
    import subprocess
    import sys

    assert run("demo")[0] == 0
    exe = [sys.executable, "-m", "integrations.cli"]
    for org, whole in [
        ("globex", ["INVALID_CREDENTIAL", "GCP_EXPORT_WRONG_LOCATION", "sk-proj-...", "Project key"]),
        ("umbrella", ["INSUFFICIENT_PERMISSIONS", "Not configured", "Service-account key"]),
    ]:
        done = subprocess.run(
            [*exe, "status", org], env={**env, "COLUMNS": "80"}, capture_output=True, text=True, check=True
        )
        text = done.stdout
        assert "…" not in text  # Rich's ellipsis: a cut value
        assert all(w in text for w in whole), text
        assert f"{org}: configured" in text and "all valid: no" in text and "True" not in text
        assert max(len(line) for line in text.splitlines()) <= 80
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", text) and re.search(r"\d\d:\d\d:\d\d UTC", text)
    code, wide = run("status", "acmecorp")
    assert "all valid: " in wide and ("all valid: yes" in wide or "all valid: no" in wide)
    code, versions = as_json("key", "list")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", versions[0]["created_at"]), versions


def test_a_rejected_test_key_message_is_punctuated(env: dict[str, str]) -> None:  # noqa: F811
    """#14: `invalid x-api-key Nothing was stored.`"""
    from tests.keys import anthropic_key

    assert run("org", "create", "acmecorp")[0] == 0
    code, body = as_json("test", "acmecorp", "anthropic", "--credential-stdin", input=anthropic_key("revoked"))
    assert code == 1 and "invalid x-api-key. Nothing was stored." in body["message"], body["message"]


def test_fixes_name_the_case_at_hand(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """#11: a rotation that failed said nothing of the current key; NETWORK_ERROR never offered --skip-validation;
    an OpenAI key sent as Anthropic was told to copy the whole key again; a JSON key file sent as OpenAI was told
    it holds spaces; ORG_EXISTS said `SLUG`; `org create Acme` was told to use the slug "as registered"."""
    from tests.keys import openai_key

    assert run("org", "create", "newco")[0] == 0
    assert run("setup", "newco", "openai", "--credential-stdin", input=openai_key())[0] == 0
    code, body = as_json("setup", "newco", "openai", "--credential-stdin", input=openai_key("revoked"))
    assert code == 1 and body["error"]["code"] == "INVALID_CREDENTIAL"
    assert "Nothing was rotated: the current OpenAI credential is unchanged (status VALID)." in body["error"]["message"]
    monkeypatch.setenv("INTEGRATIONS_SANDBOX_OUTAGE", "openai")
    code, output = run("setup", "newco", "openai", "--credential-stdin", input=openai_key())
    assert code == 1 and "NETWORK_ERROR" in output and "--skip-validation" in output and "unchanged" in output
    code, body = as_json("setup", "newco", "openai", "--credential-stdin", input=openai_key())
    assert "skip_validation=true" in body["error"]["hint"]
    monkeypatch.delenv("INTEGRATIONS_SANDBOX_OUTAGE")
    code, body = as_json("setup", "newco", "anthropic", "--credential-stdin", input=openai_key())
    assert code == 1 and body["error"]["code"] == "MALFORMED_CREDENTIAL"
    assert "under OpenAI" in body["error"]["hint"] and "Copy the whole key" not in body["error"]["hint"]
    code, body = as_json("setup", "newco", "openai", "--credential-stdin", input='{"type": "service_account"}')
    assert "Google Cloud" in body["error"]["message"] and "under Google Cloud" in body["error"]["hint"]
    code, body = as_json("org", "create", "newco")
    assert code == 1 and body["error"]["code"] == "ORG_EXISTS"
    assert "integrations org key rotate newco" in body["error"]["hint"] and "SLUG" not in body["error"]["hint"]
    code, body = as_json("org", "create", "Acme")
    assert code == 1 and body["error"]["code"] == "INVALID_ORG_SLUG"
    assert "choose a slug" in body["error"]["hint"] and "as registered" not in body["error"]["hint"]


def test_retiring_an_unknown_or_retired_key_version_has_its_own_code(env: dict[str, str]) -> None:  # noqa: F811
    """#11: `key retire v9` (unknown) and `key retire v1` twice answered KEY_VERSION_IN_USE with a rotate fix."""
    from tests.keys import service_account_json

    assert run("org", "create", "acmecorp")[0] == 0
    run("setup", "acmecorp", "gcp", "--credential-stdin", input=service_account_json("sa@p.iam.gserviceaccount.com"))
    code, body = as_json("key", "retire", "v9")
    assert code == 1 and body["error"]["code"] == "KEY_VERSION_NOT_FOUND" and "local/v1" in body["error"]["message"]
    code, body = as_json("key", "retire", "v1")
    assert code == 1 and body["error"]["code"] == "KEY_VERSION_IN_USE"  # still current
    assert as_json("key", "rotate")[0] == 0 and as_json("rewrap")[0] == 0
    assert as_json("key", "retire", "v1")[0] == 0
    code, body = as_json("key", "retire", "v1")
    assert (
        code == 1 and body["error"]["code"] == "KEY_VERSION_ALREADY_RETIRED" and "rotate" not in body["error"]["hint"]
    )


def test_diagnose_and_status_give_the_cache_disagreeing_one_code(env: dict[str, str]) -> None:  # noqa: F811
    """#12: diagnose said STATUS_SYNC_FAILED for the drift status (and REST) call STATUS_CACHE_DRIFT."""
    assert run("demo")[0] == 0  # hooli's status cache disagrees with its record
    code, steps = as_json("diagnose", "hooli", "anthropic")
    failed = [s for s in steps if s["passed"] is False]
    assert code == 1 and [s["code"] for s in failed] == ["STATUS_CACHE_DRIFT"], steps
    code, output = run("diagnose", "hooli", "ANTHROPIC")
    assert code == 1 and "Diagnose hooli · Anthropic" in output and "STATUS_CACHE_DRIFT" in output
    code, status = as_json("status", "hooli")
    assert {w["code"] for w in status.get("warning_details", [])} >= {"STATUS_CACHE_DRIFT"} or any(
        w.startswith("STATUS_CACHE_DRIFT") for w in status["warnings"]
    )


def test_json_errors_are_always_json_with_a_code(env: dict[str, str], tmp_path) -> None:  # noqa: F811
    """#15: `--metadata '{x'` with --json gave click's plain usage error (exit 2, no code) while `[1,2]` gave JSON
    INVALID_INPUT (exit 1); `org create --json` had no "success": true."""
    import json

    code, created = as_json("org", "create", "newco")
    assert code == 0 and created["success"] is True
    key_file = tmp_path / "k.txt"
    key_file.write_text("x")
    for bad in ("{x", "[1,2]"):
        code, body = as_json("setup", "newco", "openai", "--credential-file", str(key_file), "--metadata", bad)
        assert code == 1 and body["error"]["code"] == "INVALID_INPUT" and "metadata" in body["error"]["message"]
    code, output = run("setup", "newco", "openai", "--json", "--credential-file", str(tmp_path / "nope"))
    body = json.loads(output)
    assert code == 2 and body["success"] is False and body["error"]["code"] == "INVALID_INPUT"
    for argv in (["setup", "newco", "--json"], ["no-such-command", "--json"], ["status", "--json", "--nope"]):
        code, output = run(*argv)
        assert code == 2 and json.loads(output)["error"]["code"] == "INVALID_INPUT", output
    code, output = run("setup", "newco", "openai", "--credential-file", str(tmp_path / "nope"))  # text: as before
    assert code == 2 and "Usage:" in output


def test_the_actor_is_bounded_like_a_name_in_the_cli_and_the_library(env: dict[str, str]) -> None:  # noqa: F811
    """#17: a 5,000-character actor and one with a line break were stored as they came in the append-only log."""
    from integrations import connect
    from integrations.errors import IntegrationError

    assert run("demo")[0] == 0
    before = len(connect().events("acmecorp"))
    for actor in ("x" * 5000, "alice\nbob", "\u202eecila"):
        code, body = as_json("validate", "acmecorp", "openai", "--actor", actor)
        assert code == 1 and body["error"]["code"] == "INVALID_INPUT" and "actor" in body["error"]["message"], body
        code, body = as_json("revalidate", "--org", "acmecorp", "--actor", actor)
        assert code == 1 and body["error"]["code"] == "INVALID_INPUT"
    svc = connect()
    for call in (
        lambda: svc.validate("acmecorp", "openai", actor="a" * 201),
        lambda: svc.delete("acmecorp", "openai", actor="a\rb"),
        lambda: svc.reconcile(actor=""),
    ):
        with pytest.raises(IntegrationError) as refused:
            call()
        assert refused.value.code == "INVALID_INPUT"
    assert len(svc.events("acmecorp")) == before  # nothing was recorded under them
    code, body = as_json("validate", "acmecorp", "openai", "--actor", "a" * 200)
    assert code == 0


def test_a_credential_file_over_the_cap_is_refused_before_it_is_read_whole(
    env: dict[str, str],  # noqa: F811
    tmp_path,
) -> None:
    """#18: `--credential-file /dev/zero` read the whole file (MemoryError traceback under `ulimit -v 2000000`);
    stdin's cap answered MALFORMED_CREDENTIAL."""
    import resource
    import subprocess
    import sys

    assert run("org", "create", "newco")[0] == 0

    def limited() -> None:  # the reviewer's `ulimit -v 2000000`
        resource.setrlimit(resource.RLIMIT_AS, (2_000_000 * 1024, 2_000_000 * 1024))

    done = subprocess.run(
        [sys.executable, "-m", "integrations.cli", "setup", "newco", "openai", "--credential-file", "/dev/zero"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited,  # noqa: PLW1509 - a test's child process, no threads
        check=False,
    )
    assert done.returncode == 1 and "MALFORMED_CREDENTIAL" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "over 16 KiB" in done.stderr
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(512 * 1024 * 1024)  # sparse: 512 MiB that costs no disk
    code, body = as_json("setup", "newco", "openai", "--credential-file", str(huge))
    assert code == 1 and body["error"]["code"] == "MALFORMED_CREDENTIAL" and "16 KiB" in body["error"]["message"]
    code, body = as_json("setup", "newco", "openai", "--credential-stdin", input="s" * (17 * 1024))
    assert code == 1 and body["error"]["code"] == "MALFORMED_CREDENTIAL" and "16 KiB" in body["error"]["message"]


def test_api_refuses_a_bad_or_busy_port_with_a_code_and_warns_on_an_exposed_host(
    env: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """#22: `api --port 99999` was an OverflowError traceback; a port in use exited 3 (README: 0/1/2); `--host
    0.0.0.0` started in the local profile without a word."""
    import socket

    import uvicorn

    for port in ("99999", "0", "-1"):
        code, output = run("api", "--port", port)
        assert code == 1 and "INVALID_INPUT" in output and "1-65535" in output and "Traceback" not in output
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = str(held.getsockname()[1])
        code, output = run("api", "--port", port)
        assert code == 1 and "ADDRESS_IN_USE" in output and f"127.0.0.1:{port}" in output
        code, output = run("api", "--host", "0.0.0.0", "--port", port)  # noqa: S104 - the case
        assert code == 1 and "ADDRESS_IN_USE" in output
        code, output = run("api", "--host", "no-such-host.invalid", "--port", port)
        assert code == 1 and "INVALID_INPUT" in output and "Traceback" not in output
    served: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: served.append(k))  # a free port: it would serve
    code, output = run("api", "--host", "0.0.0.0", "--port", port)  # noqa: S104
    assert code == 0 and served and "warning" in output and "local profile" in output
    code, output = run("api", "--port", port)
    assert code == 0 and len(served) == 2 and "warning" not in output
