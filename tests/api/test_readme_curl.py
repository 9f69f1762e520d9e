"""The README's curl examples, run as written against a real `integrations api` process on the demo data."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.keys import service_account_json
from tests.servers import api_process, cli_env

ROOT = Path(__file__).resolve().parents[2]


def readme_examples() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- api-examples:start -->")[1].split("<!-- api-examples:end -->")[0]
    return re.search(r"```bash\n(.*?)```", block, re.S).group(1)


def test_readme_curl_examples(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    subprocess.run(["integrations", "demo"], env=env, check=True, capture_output=True)
    with api_process(env) as base:
        (tmp_path / "service-account.json").write_text(
            service_account_json("billing@acme-prod.iam.gserviceaccount.com", "acme-prod")
        )
        script = readme_examples().replace("http://127.0.0.1:8000", base)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs, text, decoder = [], done.stdout.strip(), json.JSONDecoder()
        while text:  # curl prints each JSON body without a newline
            value, end = decoder.raw_decode(text)
            outputs.append(value)
            text = text[end:].strip()
    openai, gcp, listing = outputs
    assert (openai["success"], openai["provider"], openai["validation_status"]) == (True, "OPENAI", "VALID")
    assert (gcp["success"], gcp["provider"], gcp["validation_status"]) == (True, "GCP", "VALID")
    statuses = [v["status"] for v in listing["integrations"].values()]
    assert listing["org_slug"] == "acmecorp" and listing["all_valid"] == all(s == "VALID" for s in statuses)
    assert {"OPENAI", "GCP"} <= set(listing["providers_configured"])
    assert listing["integrations"]["GCP"]["credential_name"] == "Billing export"
    assert listing["integrations"]["OPENAI"]["credential_hint"] == "sk-proj-...klmn"
