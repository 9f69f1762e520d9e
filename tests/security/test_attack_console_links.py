"""Issue 28, N9: a URL in a tenant's client_email became a clickable link on the Troubleshooting page.

Streamlit renders st.markdown, st.success, st.error, st.caption... as GitHub Markdown, which links bare URLs,
`www.` names and e-mail addresses in the text itself (escaping the Markdown characters does not stop it). Tenant
text is shown as data: in st.text, never in an element that renders Markdown."""

from __future__ import annotations

import json

from integrations import IntegrationService

from tests.console.conftest import app
from tests.console.conftest import demo as demo  # noqa: F401 - the console's fixture: demo data in a temp dir
from tests.keys import service_account_json
from tests.security.attacks import replayed

ORG = "initech"
HOSTILE_EMAIL = "https://evil.example/login?next=www.evil.example@acme-prod.iam.gserviceaccount.com"
MARKDOWN_ELEMENTS = ("markdown", "success", "error", "warning", "info", "caption", "subheader", "title")


def markdown_texts(at: object) -> list[str]:
    return [e.value for kind in MARKDOWN_ELEMENTS for e in getattr(at, kind)]


def hostile_key_file() -> str:
    data = json.loads(service_account_json("sa@acme-prod.iam.gserviceaccount.com", "acme-prod"))
    return json.dumps(data | {"client_email": HOSTILE_EMAIL})


def test_a_url_in_client_email_is_shown_as_text_on_the_troubleshooting_page(demo: IntegrationService) -> None:  # noqa: F811
    demo.setup(ORG, "gcp", hostile_key_file(), skip_validation=True)
    replayed()
    at = app("pages/troubleshooting.py", org=ORG)
    at.radio(key="ts_provider").set_value("GCP").run()
    at.button(key="diagnose").click().run()
    assert not at.exception
    assert any("evil.example" in t.value for t in at.text)  # the e-mail is shown, as data
    assert not [t for t in markdown_texts(at) if "evil" in t]  # and never where Markdown would link it
    # the format check's answer (the key's hint) is tenant text too
    at.text_area(key="format_credential").input(hostile_key_file())
    at.button(key="format_check").click().run()
    assert not at.exception
    assert any("evil.example" in t.value for t in at.text)
    assert not [t for t in markdown_texts(at) if "evil" in t]
