"""Streamlit entry: sign-in (or the local-mode Host check), the sidebar (org picker, backend banner, bulk run
progress, operator) and the pages."""

import streamlit as st

from pages import _ui

st.set_page_config(page_title="Integrations console", page_icon="🔐", layout="wide")

if _ui.auth_configured():
    if not _ui.signed_in():
        st.title("Integrations console")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    allowed = st.secrets.get("operators", {})
    email = str(st.user.get("email", ""))
    if email not in allowed.get("emails", []) and email.split("@")[-1] not in allowed.get("domains", []):
        st.error(f"{_ui.plain(email)} is not an allow-listed operator.")
        st.button("Sign out", on_click=st.logout)
        st.stop()
elif not _ui.local_host_allowed():
    # DNS rebinding: a web page on another name that resolves to 127.0.0.1 must not drive the console
    st.error("Refused: in local mode the console answers only on its own address (127.0.0.1 or localhost).")
    st.stop()

st.session_state[_ui.APP_KEY] = True  # the checks above passed: pages may run (see _ui.through_app)
svc = _ui.service()
slugs = _ui.org_slugs()
with st.sidebar:
    # Another page asked to open an org: set it before the widget exists. The index always names the
    # current choice too, so the browser's copy of the widget agrees with the server's on the next rerun.
    request = st.session_state.pop(_ui.ORG_REQUEST_KEY, None)
    if request in slugs:
        st.session_state[_ui.ORG_KEY] = request
    wanted = _ui.requested_org()
    # a long list is searched here, not sent whole: the browser rebuilds a picker's every option on each redraw
    # (10,000 options were about a third of the status page's first render)
    shown = _ui.org_choices(slugs, wanted)
    org = st.selectbox(
        "Organization",
        shown,
        key=_ui.ORG_KEY,
        placeholder="Choose an organization" if slugs else "No organizations yet",
        # an unknown org in the URL opens no org (and the URL keeps what was asked for)
        index=shown.index(wanted) if wanted in shown else (None if wanted or not shown else 0),
    )
    if org:
        st.query_params[_ui.ORG_KEY] = org
    b = svc.backends
    st.caption(
        f"Profile **{b.get('profile')}** · store {b.get('store')} · cipher {b.get('cipher')} · "
        f"cache {b.get('status_cache')}"
    )
    if svc.sandboxed:
        st.warning("Sandbox: provider checks are simulated.", icon="🧪")
    _ui.bulk_sidebar()
    if _ui.auth_configured():
        st.caption(f"Signed in as {_ui.plain(_ui.actor())}")
        st.button("Sign out", on_click=st.logout)
    else:
        st.caption(f"Local mode (127.0.0.1 only) · acting as {_ui.plain(_ui.actor())}")

pages = [
    # Setup is the default page, at `/`; `/setup` (typed, or a link's) opens it too, with the URL's org and provider
    st.Page("pages/setup.py", title="Setup", icon="🔑", default=True, url_path="home"),
    st.Page(_ui.to_setup, title="Setup", url_path="setup", visibility="hidden"),
    st.Page("pages/status.py", title="Status overview", icon="📊"),
    st.Page("pages/troubleshooting.py", title="Troubleshooting", icon="🩺"),
    st.Page("pages/audit_log.py", title="Audit log", icon="📜"),
    st.Page("pages/orgs.py", title="Organizations", icon="🏢"),
]
navigation = st.navigation(pages)
link = _ui.deep_link()
if link is not None:  # the first request of the process asked for another page (and org): open it, as asked
    st.switch_page(link[0], query_params=link[1])
navigation.run()
