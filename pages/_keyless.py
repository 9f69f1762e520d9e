"""The Setup page's GCP "without a key file" panel: the org's principal, our customer ID, the commands and Terraform
for the customer's grant (code blocks: tenant text is data, never Markdown), the form and "Check access"."""

from collections.abc import Callable
from typing import Any

import streamlit as st
from integrations import IntegrationError, IntegrationService
from integrations.domain import CredentialKind
from integrations.troubleshooting import explain_google_error

from pages import _ui

KEYLESS, KEY_FILE = "Without a key file (recommended)", "Service-account key file"
MODE_KEY = "setup_gcp_mode"


def mode(current: Any) -> str:
    """Keyless unless the org's current GCP integration is a key file (then rotating it stays one click away)."""
    default = KEY_FILE if current.credential_kind == CredentialKind.SERVICE_ACCOUNT else KEYLESS
    return str(
        st.radio(
            "How to connect Google Cloud",
            [KEYLESS, KEY_FILE],
            index=[KEYLESS, KEY_FILE].index(default),
            key=MODE_KEY,
            horizontal=True,
            help="Organizations created since May 2024 cannot create service-account keys; keyless access needs "
            "only a read grant to your organization's own principal, and nothing secret is stored.",
        )
    )


def panel(svc: IntegrationService, org: str, current: Any, start: Callable[..., None]) -> None:
    """What the customer runs, the form, and Check access."""
    try:
        info = svc.keyless_info(org)
    except IntegrationError as exc:
        _ui.show_error(exc, org, "GCP")
        return
    st.markdown(
        "Grant **your organization's principal** read access to the Cloud Billing export in BigQuery (mode a), or "
        "let it impersonate a reader service account of yours (mode b). Then enter the export table and check access."
    )
    c1, c2 = st.columns([3, 1])
    c1.caption("Your organization's principal")
    c1.code(info.principal, language=None)
    c2.caption("Our customer ID (to allow-list)")
    c2.code(info.customer_id or "not set (INTEGRATIONS_GCP_CUSTOMER_ID)", language=None)
    commands, terraform = st.tabs(["gcloud / bq", "Terraform"])
    commands.code(info.commands, language="bash")
    terraform.code(info.terraform, language="hcl")
    keyless_now = current.credential_kind == CredentialKind.KEYLESS
    table = (current.metadata or {}).get("billing_export_table", "") if keyless_now else ""
    with st.form("keyless_form"):
        st.text_input(
            "Billing export table (project.dataset.table)",
            value=table,
            key="keyless_export_table",
            placeholder="my-billing-project.billing_export.gcp_billing_export_v1_0123AB_456789_ABCDEF",
        )
        st.text_input(
            "Your reader service account (mode b only; leave empty for mode a)",
            key="keyless_customer_sa",
            placeholder="cost-reader@my-billing-project.iam.gserviceaccount.com",
        )
        st.text_area(
            "Google's error, if the grant was refused (optional)",
            key="keyless_grant_error",
            height=68,
            placeholder="FAILED_PRECONDITION: One or more users named in the policy do not belong to a permitted …",
        )
        st.form_submit_button("Check access", type="primary", key="keyless_submit", on_click=lambda: submit(start))
    pasted = st.session_state.get("keyless_grant_error") or ""
    found = explain_google_error(pasted) if pasted.strip() else None
    if found is not None:
        st.warning(f"`{found['code']}`: {found['title']}")
        st.caption("What to do")
        st.code("\n".join(str(f) for f in found["fixes"]), language=None, wrap_lines=True)  # type: ignore[union-attr]


def submit(start: Callable[..., None]) -> None:
    state = st.session_state
    table = (state.get("keyless_export_table") or "").strip()
    customer = (state.get("keyless_customer_sa") or "").strip() or None
    grant_error = (state.get("keyless_grant_error") or "").strip()[:500]
    start(table, customer, {"grant_error": grant_error} if grant_error else {})


def show_error(code: str, message: str, hint: str = "") -> None:
    """A keyless check's finding: its messages name accounts and tables (tenant text), so they are shown as text
    in a code block (no Markdown, no autolinked e-mail addresses), and the fix the same way."""
    st.warning(f"`{code}`: what is left to do")
    st.code(message + (f"\n\nFix: {hint}" if hint else ""), language=None, wrap_lines=True)


def show_checks(checks: list[Any]) -> None:
    """The checklist as plain text lines (identities and tables are data)."""
    st.code(
        "\n".join(f"{'✅' if c.passed else '❌'} {c.name}: {c.detail}" for c in checks), language=None, wrap_lines=True
    )
