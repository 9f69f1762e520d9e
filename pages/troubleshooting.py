"""Troubleshooting: guided walkthroughs, the searchable catalog, diagnose, format check, resync."""

import streamlit as st
from integrations import IntegrationError, Provider
from integrations.results import DiagnosticStep
from integrations.troubleshooting import search_catalog, walkthroughs_for

from pages import _ui

_ui.through_app()

svc, org = _ui.service(), _ui.current_org()
st.title("Troubleshooting")
if _ui.unknown_org():
    org = _ui.require_org()  # says the org does not exist and stops: never diagnoses another org

provider = _ui.provider_picker("ts_provider")

DIAGNOSIS_KEY = "diagnosis"
TRANSIENT = {"NETWORK_ERROR", "PROVIDER_UNAVAILABLE", "RATE_LIMITED"}  # the provider could not answer


def run_diagnosis() -> None:
    """Diagnose and keep the steps (no secret in them) for this org and provider, so that the action buttons
    beside a failed step survive the rerun their click causes."""
    steps = svc.diagnose(org, provider)
    st.session_state[DIAGNOSIS_KEY] = {"at": (org, provider), "steps": steps}


def act(what: str) -> None:
    """An action button's callback: call the facade, say what it did, diagnose again."""
    who = _ui.actor()
    try:
        if what == "validate":
            result = svc.validate(org, provider, actor=who)
            _ui.flash("success" if result.success else "warning", f"Re-validated: {_ui.plain(result.message)}")
        elif what == "resync":
            report = svc.reconcile(org_slug=org, actor=who)
            fixed = f"{report.fixed} drift(s) fixed." if report.fixed else "No drift: the cache already agreed."
            _ui.flash("success", f"Resynced the status cache of {org}: {fixed}")
    except IntegrationError as exc:
        _ui.flash("error", f"`{exc.code}`: {_ui.plain(exc.message)} **Fix:** {_ui.plain(exc.hint)}")
    _ui.changed()
    run_diagnosis()


def open_setup(skip_validation: bool = False) -> None:
    """Open Setup for this org and provider (with "Skip validation" ticked when the provider cannot be reached:
    the seed's troubleshooting fix, store as PENDING and re-validate later)."""
    st.session_state["setup_skip_validation"] = skip_validation
    _ui.open_page("pages/setup.py", org, provider)


def actions(step: DiagnosticStep) -> None:
    """The buttons beside a failed step: what the fix says, one click away, each through the facade. Checks and
    resyncs run in callbacks (their outcome is drawn above the new diagnosis); the others open a page."""
    code = step.code or ""
    calls: list[tuple[str, str, str]] = []  # (label, key, action)
    if step.name in ("org exists", "org API key issued"):
        calls.append(("Open Organizations", "act_orgs", "orgs"))
    if step.name in ("integration configured", "ciphertext decrypts"):
        calls.append((f"Open Setup for {org} · {label}", "act_setup", "setup"))
    if step.name == "live validation":
        calls.append(("Re-validate", "act_validate", "validate"))
        calls.append(("Open Setup to rotate the key", "act_setup", "setup"))
    if code in TRANSIENT and step.name in ("integration configured", "live validation"):
        calls.append(("Store a key as PENDING (skip validation)", "act_pending", "pending"))
    if step.name == "status cache agrees" or code in ("STATUS_SYNC_FAILED", "STATUS_CACHE_READ_FAILED"):
        calls.append(("Resync status", "act_resync", "resync"))
    clicked = None
    for col, (text, key, what) in zip(st.columns(max(len(calls), 1)), calls, strict=False):
        if what in ("validate", "resync"):
            col.button(text, key=key, width="stretch", on_click=act, args=(what,))
        elif col.button(text, key=key, width="stretch"):
            clicked = what
    if clicked == "orgs":
        st.switch_page("pages/orgs.py")
    elif clicked in ("setup", "pending"):
        open_setup(skip_validation=clicked == "pending")


label = Provider(provider).label
st.subheader(f"Diagnose {org or '—'} · {label}")
st.caption("Runs the checks in order and stops at the first failure. It changes nothing.")
st.button("Diagnose", key="diagnose", type="primary", disabled=org is None, on_click=run_diagnosis)
_ui.show_flash()
diagnosis = st.session_state.get(DIAGNOSIS_KEY)
if diagnosis and diagnosis["at"] == (org, provider):
    for step in diagnosis["steps"]:
        icon = {True: "✅", False: "❌", None: "⏸️"}[step.passed]
        with st.container(border=True):
            st.markdown(f"{icon} **{step.name}**")
            if step.detail:  # names, e-mails, provider text: data, in st.text (Markdown would link a URL in them)
                st.text(step.detail)
            if step.passed is False:
                st.markdown(f"`{step.code}` · **Fix:** {_ui.plain(step.fix)}")
                actions(step)

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
                st.caption(f"Fix: {_ui.plain(exc.hint)}")
            del pasted
with c2.container(border=True):
    st.markdown("**Resync status** — rebuild this org's status cache from the system of record")
    if st.button("Resync status", key="resync", disabled=org is None):
        report = svc.reconcile(org_slug=org, actor=_ui.actor())
        _ui.changed()
        st.success(f"{report.fixed} drift(s) fixed." if report.fixed else "No drift: the cache already agreed.")

st.subheader(f"Walkthroughs for {Provider(provider).label}")
for guide in walkthroughs_for(provider):
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
