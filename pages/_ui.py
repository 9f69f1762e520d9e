"""Streamlit-only helpers shared by the pages: the service, the operator, the chosen org, error display.

The library never imports Streamlit; the pages never build adapters.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pandas as pd
import streamlit as st
from integrations import Capability, IntegrationError, IntegrationService, Provider, connect

T = TypeVar("T")
ORG_KEY = "org"
ORG_REQUEST_KEY = "org_request"
PROVIDER_KEY = "provider"
BADGES = {"VALID": "🟢 VALID", "INVALID": "🔴 INVALID", "PENDING": "🟡 PENDING", "NOT_CONFIGURED": "⚪ NOT_CONFIGURED"}


def _env_fingerprint() -> str:
    return repr(sorted((k, v) for k, v in os.environ.items() if k.startswith(("INTEGRATIONS_", "SUPABASE_"))))


@st.cache_resource(show_spinner=False)
def _service(fingerprint: str) -> IntegrationService:
    return connect()


def service() -> IntegrationService:
    """One service per configuration, shared by every session."""
    return _service(_env_fingerprint())


@st.cache_data(ttl=15, show_spinner="Loading the overview…")
def _overview(fingerprint: str) -> pd.DataFrame:
    return _service(fingerprint).overview()


def overview() -> pd.DataFrame:
    """The org x provider table, cached briefly; `changed()` clears it after any write."""
    return _overview(_env_fingerprint())


def changed() -> None:
    _overview.clear()


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: local mode
        return False


def signed_in() -> bool:
    return bool(getattr(st.user, "is_logged_in", False))


def actor() -> str:
    """The signed-in operator's email, or the local user in local mode."""
    if auth_configured() and signed_in():
        return str(st.user.get("email") or st.user.get("name") or "operator")
    return f"local:{os.environ.get('USER', 'operator')}"


def org_slugs() -> list[str]:
    return service().orgs()  # from the system of record: the picker works while the status cache is down


def current_org() -> str | None:
    """The org chosen in the sidebar (or the URL when a page runs alone)."""
    org = st.session_state.get(ORG_KEY) or st.query_params.get(ORG_KEY)
    slugs = org_slugs()
    return org if org in slugs else (slugs[0] if slugs else None)


def current_provider() -> Provider:
    try:
        return Provider.parse(st.query_params.get(PROVIDER_KEY, "OPENAI"))
    except IntegrationError:
        return Provider.OPENAI


def provider_picker(key: str) -> str:
    """The provider radio, starting from the URL's provider."""
    values = [p.value for p in Provider]
    return st.radio(
        "Provider",
        values,
        key=key,
        horizontal=True,
        index=values.index(current_provider().value),
        format_func=lambda v: Provider(v).label,
    )


def open_page(page: str, org: str, provider: str) -> None:
    """Jump to another page with org/provider in the URL (shareable)."""
    st.session_state[ORG_REQUEST_KEY] = org  # the sidebar widget is already drawn: app.py applies it next run
    st.switch_page(page, query_params={ORG_KEY: org, PROVIDER_KEY: provider})


def show_error(exc: IntegrationError) -> None:
    """The catalog entry for an error: what happened, likely causes, fixes, and a way to troubleshoot."""
    entry = exc.entry
    st.error(f"**{entry.title}** (`{exc.code}`): {exc.message}", icon="🚫")
    with st.container(border=True):
        st.markdown("**Likely causes**\n" + "\n".join(f"- {c}" for c in entry.causes))
        st.markdown("**What to do**\n" + "\n".join(f"- {f}" for f in entry.fixes))
        if exc.retryable:
            st.caption("This is temporary: nothing was changed; retry later.")
        checks = exc.details.get("checks") or []
        if checks:
            st.markdown(
                "**Checks**\n"
                + "\n".join(f"- {'✅' if c['passed'] else '❌'} {c['name']} {c['detail']}" for c in checks)
            )
    st.page_link("pages/troubleshooting.py", label="Open troubleshooting", icon="🩺")


def show_capabilities(capabilities: list[Capability]) -> None:
    """What the key can do for cost tracking: inference and cost data, each passed or not available, and why."""
    for c in capabilities:
        icon = "✅" if c.status == "passed" else "ℹ️"
        st.caption(f"{icon} **{c.name}**: {c.status}. {c.detail}")


def with_progress(work: Callable[..., T], label: str, **kwargs: Any) -> T:
    """Run `work(progress=...)` in a worker thread and draw its progress here (widgets need this thread)."""
    bar = st.progress(0.0, text=label)
    state = {"done": 0, "total": 0}
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work, progress=lambda done, total: state.update(done=done, total=total), **kwargs)
        while not future.done():
            bar.progress(state["done"] / max(state["total"], 1), text=f"{label} {state['done']}/{state['total']}")
            time.sleep(0.1)
    bar.progress(1.0, text=f"{label} {state['done']}/{state['total']}")
    return future.result()


def badge(status: str | None) -> str:
    return BADGES.get(status or "", status or "—")


def plain_warning(text: str) -> None:
    """A warning whose text is shown as written (backslash-escaped: Streamlit alerts render Markdown)."""
    st.warning("".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in text), icon="⚠️")


MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:")
