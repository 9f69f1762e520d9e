"""Troubleshooting: guided walkthroughs, the searchable catalog, diagnose, format check, resync."""

import streamlit as st
from integrations import IntegrationError, Provider
from integrations.troubleshooting import WALKTHROUGHS, search_catalog

from pages import _ui

_ui.through_app()

svc, org = _ui.service(), _ui.current_org()
st.title("Troubleshooting")
if _ui.unknown_org():
    org = _ui.require_org()  # says the org does not exist and stops: never diagnoses another org

provider = _ui.provider_picker("ts_provider")

st.subheader(f"Diagnose {org or '—'} · {Provider(provider).label}")
st.caption("Runs the checks in order and stops at the first failure. It changes nothing.")
if st.button("Diagnose", key="diagnose", type="primary", disabled=org is None):
    for step in svc.diagnose(org, provider):
        icon = {True: "✅", False: "❌", None: "⏸️"}[step.passed]
        with st.container(border=True):
            st.markdown(f"{icon} **{step.name}**")
            if step.detail:  # names, e-mails, provider text: data, in st.text (Markdown would link a URL in them)
                st.text(step.detail)
            if step.passed is False:
                st.markdown(f"`{step.code}` · **Fix:** {_ui.plain(step.fix)}")

c1, c2 = st.columns(2)
with c1.container(border=True):
    st.markdown("**Format check** — nothing is stored or sent")
    with st.form("format_form", clear_on_submit=True):
        pasted = (
            st.text_input("Credential", type="password", key="format_credential")
            if provider != "GCP"
            else st.text_area("Service-account key JSON", key="format_credential")
        )
        if st.form_submit_button("Check format", key="format_check"):
            try:
                hint = svc.check_format(provider, pasted)  # the key file's e-mail: tenant text, shown as data
                st.success("Well-formed:")
                st.text(hint)
            except IntegrationError as exc:
                st.error(f"`{exc.code}`")
                st.text(exc.message)  # may quote the pasted text
            del pasted
with c2.container(border=True):
    st.markdown("**Resync status** — rebuild this org's status cache from the system of record")
    if st.button("Resync status", key="resync", disabled=org is None):
        report = svc.reconcile(org_slug=org, actor=_ui.actor())
        _ui.changed()
        st.success(f"{report.fixed} drift(s) fixed." if report.fixed else "No drift: the cache already agreed.")

st.subheader("Walkthroughs")
for guide in WALKTHROUGHS:
    with st.expander(f"{guide.title} — {guide.symptom}"):
        st.markdown("**Likely causes**\n" + "\n".join(f"- {c}" for c in guide.causes))
        st.markdown("**Solutions**\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(guide.steps, 1)))
        for test in guide.manual_tests:
            st.caption(f"Test by hand: {Provider(test.provider).label}, {test.kind}")
            st.code(test.command, language="bash")
        st.caption("Codes: " + ", ".join(f"`{c}`" for c in guide.codes))

st.subheader("Error catalog")
query = st.text_input("Search codes, causes and fixes", key="catalog_search", placeholder="e.g. permission")
entries = search_catalog(query)
st.caption(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
for e in entries:
    with st.expander(f"`{e['code']}` — {e['title']}", expanded=bool(query) and len(entries) <= 3):
        st.markdown(e["message"])
        st.markdown("**Likely causes**\n" + "\n".join(f"- {c}" for c in e["causes"]))
        st.markdown("**What to do**\n" + "\n".join(f"- {f}" for f in e["fixes"]))
        st.caption(f"HTTP {e['http_status']} · {'retryable' if e['retryable'] else 'not retryable'}")
