"""Organizations: create an org, rotate its org API key (the new key shown once, copyable, then gone).

A new key lives in the session only between the action's callback and the one render that shows it: the render
pops it, so the next rerun (any click) no longer has it; it is never logged, flashed or put in a URL."""

import streamlit as st
from integrations import IntegrationError

from pages import _ui

_ui.through_app()

NEW_KEY, CONFIRM_KEY = "orgs_new_key", "orgs_confirm_rotate"

svc = _ui.service()
st.title("Organizations")


def create() -> None:
    """The create form's callback: register the org; its first org API key is shown once."""
    state = st.session_state
    slug, name = (state.get("orgs_slug") or "").strip(), (state.get("orgs_name") or "").strip() or None
    try:
        key = svc.register_org(slug, name, actor=_ui.actor())
    except IntegrationError as exc:
        _ui.flash("error", f"`{exc.code}`: {_ui.plain(exc.message)} **Fix:** {_ui.plain(exc.hint)}")
        return
    state["orgs_slug"], state["orgs_name"] = "", ""
    state[NEW_KEY] = (slug, key, "created")
    state[_ui.ORG_REQUEST_KEY] = slug  # the sidebar opens the new org on the next run
    _ui.changed()


def rotate(org: str) -> None:
    """The confirmation's callback: revoke the org's API keys and issue a new one, shown once."""
    st.session_state.pop(CONFIRM_KEY, None)
    try:
        key = svc.rotate_org_key(org, actor=_ui.actor())
    except IntegrationError as exc:
        _ui.flash("error", f"`{exc.code}`: {_ui.plain(exc.message)} **Fix:** {_ui.plain(exc.hint)}")
        return
    st.session_state[NEW_KEY] = (org, key, "rotated")


_ui.show_flash()
shown = st.session_state.pop(NEW_KEY, None)  # once: the next rerun has no copy of it
if shown:
    slug, key, how = shown
    with st.container(border=True, key="orgs_key_once"):
        if how == "created":
            st.success(f"Organization {_ui.plain(slug)} created. Its org API key:", icon="🏢")
        else:
            st.success(f"The org API key of {_ui.plain(slug)} was rotated: every earlier key is revoked.", icon="🔁")
        st.code(key, language=None)  # the copy button sits at its right
        st.warning(
            "Shown once: copy it now into the frontend's secret store (`X-API-Key`). It is not stored in clear "
            "anywhere and cannot be shown again; rotating issues a new one.",
            icon="⚠️",
        )
        st.button("I have copied it", key="orgs_copied")  # a rerun: the key is gone from the page
    del key

c1, c2 = st.columns(2)
with c1.container(border=True):
    st.subheader("Create an organization")
    with st.form("orgs_create_form"):
        st.text_input("Slug", key="orgs_slug", placeholder="e.g. acmecorp", help="2-63 characters: a-z, 0-9, -")
        st.text_input("Name (optional)", key="orgs_name", placeholder="e.g. Acme Corp")
        st.form_submit_button("Create organization", type="primary", key="orgs_create", on_click=create)

with c2.container(border=True):
    st.subheader("Rotate the org API key")
    org = _ui.current_org()
    if org is None:
        st.info("Pick an organization in the sidebar.")
    else:
        st.markdown(
            f"**{_ui.plain(org)}**: issue a new org API key and revoke every current one. The frontend's calls "
            "with the old key fail (`ORG_API_KEY_INVALID`) until it has the new one."
        )
        if st.session_state.get(CONFIRM_KEY) == org:
            st.warning(f"Rotate the org API key of {_ui.plain(org)}? The current key stops working at once.")
            b1, b2 = st.columns(2)
            b1.button("Yes, rotate", key="orgs_rotate_confirm", type="primary", on_click=rotate, args=(org,))
            _ui.danger("orgs_rotate_confirm")
            b2.button("Cancel", key="orgs_rotate_cancel", on_click=lambda: st.session_state.pop(CONFIRM_KEY, None))
        else:
            st.button(
                "Rotate org API key…",
                key="orgs_rotate",
                on_click=lambda: st.session_state.__setitem__(CONFIRM_KEY, org),
            )

slugs = _ui.org_slugs()
st.caption(f"{len(slugs):,} organization(s) registered.")
