"""Setup: the chosen integration's state, the credential form, re-validate / rotate / delete."""

import pandas as pd
import streamlit as st
from integrations import IntegrationError, Provider

from pages import _ui

svc, org = _ui.service(), _ui.current_org()
st.title("Setup")
if org is None:
    st.info("No organizations yet: create one with `integrations org create SLUG`.")
    st.stop()

provider = _ui.provider_picker("setup_provider")
st.query_params[_ui.PROVIDER_KEY] = provider
current = svc.get_one(org, provider)

with st.container(border=True):
    st.subheader(f"{org} · {Provider(provider).label}")
    facts = {
        "Status": _ui.badge(current.status.value),
        "Credential": current.credential_hint or "—",
        "Kind": current.credential_kind.label if current.credential_kind else "—",
        "Name": current.credential_name or "—",
        "Last validated": f"{current.last_validated_at:%Y-%m-%d %H:%M} UTC" if current.last_validated_at else "never",
    }
    for col, (label, value) in zip(st.columns([1, 2, 1, 1, 1]), facts.items(), strict=True):
        col.caption(label)
        col.markdown(f"**{value}**")
    if current.error:
        st.warning(f"`{current.error.code}`: {current.error.message}\n\n**Fix:** {current.error.hint}")
    if current.credential_id:
        b1, b2, b3 = st.columns(3)
        if b1.button("Re-validate", key="validate", width="stretch"):
            with st.spinner("Checking with the provider…"):
                try:
                    result = svc.validate(org, provider, actor=_ui.actor())
                    _ui.changed()
                    (st.success if result.success else st.error)(result.message)
                    _ui.show_capabilities(result.capabilities)
                    for w in result.warnings:
                        st.warning(w)
                except IntegrationError as exc:
                    _ui.show_error(exc)
        if b2.button("Rotate", key="rotate", width="stretch"):
            st.info(
                "Enter the new credential below. When it is stored, the current one is deactivated and its "
                "ciphertext erased, in one transaction."
            )
        if b3.button("Delete", key="delete", type="secondary", width="stretch"):
            st.session_state["confirm_delete"] = (org, provider)
        if st.session_state.get("confirm_delete") == (org, provider):
            st.error(
                f"Delete the {Provider(provider).label} credential of {org}? The ciphertext is erased; the "
                "history is kept."
            )
            c1, c2 = st.columns(2)
            if c1.button("Yes, delete", key="delete_confirm", type="primary"):
                st.session_state.pop("confirm_delete")
                try:
                    st.toast(svc.delete(org, provider, actor=_ui.actor()).message)
                    _ui.changed()
                    st.rerun()
                except IntegrationError as exc:
                    _ui.show_error(exc)
            if c2.button("Cancel", key="delete_cancel"):
                st.session_state.pop("confirm_delete")
                st.rerun()

st.subheader("Rotate the credential" if current.credential_id else "Set up a credential")
with st.form("setup_form", clear_on_submit=True):
    label = "Service-account key JSON" if provider == "GCP" else "API key"
    if provider == "GCP":
        credential = st.text_area(
            label, key="setup_credential", height=160, placeholder='{"type": "service_account", ...}'
        )
    else:
        credential = st.text_input(label, key="setup_credential", type="password", placeholder="sk-...")
    name = st.text_input("Credential name", key="setup_credential_name", placeholder="OpenAI Production Key")
    metadata = st.data_editor(
        pd.DataFrame({"key": ["environment"], "value": [""]}), num_rows="dynamic", key="setup_metadata", width="stretch"
    )
    skip = st.checkbox(
        "Skip validation (store as PENDING)",
        key="setup_skip_validation",
        help="The credential is stored without asking the provider. Use it only when the "
        "provider is down and you will re-validate later.",
    )
    submitted = st.form_submit_button("Validate and save", type="primary", key="setup_submit")

if submitted:
    if skip:
        st.warning("Validation skipped: the credential is stored as PENDING until re-validated.")
    meta = {str(k): str(v) for k, v in zip(metadata["key"], metadata["value"], strict=True) if k and v}
    labels = {
        "format": "Format checked",
        "validate": "Checked with the provider",
        "encrypt": "Encrypted",
        "store": "Stored",
        "sync": "Status synced",
    }
    with st.status("Setting up…", expanded=True) as progress:
        try:
            result = svc.setup(
                org,
                provider,
                credential,
                credential_name=name or None,
                metadata=meta,
                skip_validation=skip,
                actor=_ui.actor(),
                on_step=lambda step: progress.write(f"{labels[step]}…"),
            )
            progress.update(label="Done", state="complete", expanded=False)
        except IntegrationError as exc:
            progress.update(label=f"Failed: {exc.code}", state="error", expanded=False)
            result = exc
    del credential
    st.session_state.pop("setup_credential", None)  # the form is cleared on submit; drop the server copy now
    if isinstance(result, IntegrationError):
        _ui.show_error(result)
    else:
        _ui.changed()
        st.success(f"{result.message} Credential id `{result.credential_id}`.")
        _ui.show_capabilities(result.capabilities)
        for w in result.warnings:
            st.warning(w)
        for c in result.checks:
            st.caption(f"{'✅' if c.passed else '❌'} {c.name} {c.detail}")
