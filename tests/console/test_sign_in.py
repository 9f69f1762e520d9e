"""With [auth] configured the console shows nothing but a sign-in until an allow-listed operator signs in."""

from __future__ import annotations

from integrations import IntegrationService
from streamlit.testing.v1 import AppTest

from tests.console.conftest import ROOT, app

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret",
    "client_id": "console",
    "client_secret": "test-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def test_auth_configured_requires_sign_in(demo: IntegrationService) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe and not at.metric and "acmecorp" not in str(at.main)
    assert not at.sidebar.children or "Local mode" not in str(at.sidebar)


def test_local_mode_is_labelled(demo: IntegrationService) -> None:
    at = app()
    captions = [c.value for c in at.sidebar.caption]
    assert any(c.startswith("Local mode (127.0.0.1 only)") for c in captions)
    assert any("Sandbox: provider checks are simulated." in w.value for w in at.sidebar.warning)
