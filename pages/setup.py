"""Setup: the chosen integration's state, the credential form, re-validate / rotate / delete.

Actions run in callbacks (before the page is drawn) or as background jobs that the page waits for, so what is
drawn below them is always the state after the action; a check started here finishes even if the operator leaves.
"""

import json
from collections.abc import Callable
from typing import Any

import streamlit as st
from integrations import IntegrationError, Provider
from integrations.domain import CredentialKind
from integrations.jobs import Job
from integrations.troubleshooting import inconclusive

from pages import _keyless, _ui

_ui.through_app()

JOB_KEY, CONFIRM_KEY, LOADED_KEY, UPLOADS_KEY = "setup_job", "confirm_delete", "setup_loaded", "setup_uploads"
KEPT_KEY = _ui.KEPT_KEY
STEPS = {
    "format": "Format checked",
    "principal": "The org's principal is ready",
    "validate": "Checked with the provider",
    "encrypt": "Encrypted",
    "store": "Stored",
    "sync": "Status synced",
}

svc = _ui.service()
st.title("Setup")
org = _ui.require_org()
provider = _ui.provider_picker("setup_provider")
label = Provider(provider).label


def start(kind: str, title: str, work: Callable[[Job], Any], **context: Any) -> None:
    """Run `work` in the background; `context` (the key's kind, whether it rotates one) shapes the advice."""
    job = _ui.jobs().start(kind, title, work, owner=_ui.actor())
    st.session_state[JOB_KEY] = {"id": job.id, "org": org, "provider": provider, "kind": kind, **context}


def submit() -> None:
    """The form's callback: read the fields, drop the secret from the session at once, start the setup."""
    state, who = st.session_state, _ui.actor()
    upload = state.get(f"setup_key_file_{state.get(UPLOADS_KEY, 0)}")
    secret = upload.getvalue().decode("utf-8", "replace") if upload is not None else state.get("setup_credential", "")
    state["setup_credential"], state[UPLOADS_KEY] = "", state.get(UPLOADS_KEY, 0) + 1  # fresh, empty widgets
    name, skip = state.get("setup_credential_name") or None, bool(state.get("setup_skip_validation"))
    try:
        text = (state.get("setup_metadata") or "").strip()
        meta = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        _ui.flash("error", f"`INVALID_INPUT`: metadata is not JSON ({_ui.plain(exc.msg)}); nothing was stored.")
        return
    start(
        "setup",
        f"Setting up {label} for {org}",
        lambda job: svc.setup(
            org,
            provider,
            secret,
            credential_name=name,
            metadata=meta,
            skip_validation=skip,
            actor=who,
            on_step=job.step,
        ),
        key_kind=svc.kind_of(provider, secret),  # the kind only (from the prefix), never the key
        rotation=bool(svc.get_one(org, provider).credential_id),
    )
    if not skip:  # if the provider cannot be reached, the key can be stored as PENDING without pasting it again
        state[KEPT_KEY] = {
            "job": state[JOB_KEY]["id"],
            "org": org,
            "provider": provider,
            "secret": secret,
            "name": name,
            "meta": meta,
            "offered": False,
        }


def store_pending() -> None:
    """The offer's button: the key kept from the check that could not reach its provider, stored as PENDING."""
    kept, who = st.session_state.pop(KEPT_KEY, None), _ui.actor()
    if not kept or (kept["org"], kept["provider"]) != (org, provider):
        return
    start(
        "setup",
        f"Storing the {label} key of {org} as PENDING",
        lambda job: svc.setup(
            org,
            provider,
            kept["secret"],
            credential_name=kept["name"],
            metadata=kept["meta"],
            skip_validation=True,
            actor=who,
            on_step=job.step,
        ),
        key_kind=svc.kind_of(provider, kept["secret"]),
        rotation=bool(svc.get_one(org, provider).credential_id),
    )


def test_key() -> None:
    """The form's "Test" callback: check the key with the provider without saving it. The key leaves the session
    at once (as for a setup): to store it after a good test, paste it again and save."""
    state, who = st.session_state, _ui.actor()
    upload = state.get(f"setup_key_file_{state.get(UPLOADS_KEY, 0)}")
    secret = upload.getvalue().decode("utf-8", "replace") if upload is not None else state.get("setup_credential", "")
    state["setup_credential"], state[UPLOADS_KEY] = "", state.get(UPLOADS_KEY, 0) + 1
    try:
        text = (state.get("setup_metadata") or "").strip()
        meta = json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        _ui.flash("error", f"`INVALID_INPUT`: metadata is not JSON ({_ui.plain(exc.msg)}); nothing was tested.")
        return
    start(
        "test",
        f"Testing a {label} key for {org} (not saved)",
        lambda job: svc.test_credential(org, provider, secret, meta, actor=who),
        key_kind=svc.kind_of(provider, secret),
    )


def start_keyless(table: str, customer_sa: str | None, meta: dict[str, Any]) -> None:
    """Keyless GCP: store the setup and check access (PENDING with what to do until the grant works)."""
    who = _ui.actor()
    start(
        "setup",
        f"Checking keyless access for {org}",
        lambda job: svc.setup_keyless(
            org, table, customer_sa, "Billing export (keyless)", meta, actor=who, on_step=job.step
        ),
    )


def revalidate() -> None:
    who = _ui.actor()
    start("validate", f"Checking the {label} credential of {org}", lambda job: svc.validate(org, provider, actor=who))


def delete() -> None:
    st.session_state.pop(CONFIRM_KEY, None)
    try:
        result = svc.delete(org, provider, actor=_ui.actor())
        _ui.flash("success", result.message)
        for w in result.warning_details:
            _ui.flash("warning", f"`{w.code}`: {_ui.plain(w.message)} **Fix:** {_ui.plain(w.fix)}")
    except IntegrationError as exc:
        _ui.flash("error", f"`{exc.code}`: {_ui.plain(exc.message)}")
    _ui.changed()


def show_test_outcome(job: Job, context: dict[str, Any]) -> None:
    """A key tested without saving: what the provider said; nothing was stored either way."""
    if job.error is not None:  # refused by its format (or the attempt limit): never stored, nothing to re-validate
        _ui.show_error(job.error, org, provider, kind=context.get("key_kind"), stored=False)
        return
    result = job.result
    if result.success:
        st.success(f"Test passed: {_ui.plain(result.message)} Paste it again and save to store it.", icon="🧪")
    else:
        st.error(f"Test {result.outcome.lower()}: {_ui.plain(result.message)}", icon="🧪")
        if result.error is not None:
            st.markdown(f"`{result.error.code}` · **Fix:** {_ui.plain(result.error.hint)}")
        _ui.troubleshoot_link(org, provider)
    _ui.show_capabilities(result.capabilities)
    for w in result.warning_details:
        st.warning(f"`{w.code}`: {_ui.plain(w.message)}\n\n**Fix:** {_ui.plain(w.fix)}")
    for c in result.checks:
        st.caption(f"{'✅' if c.passed else '❌'} {c.name} {_ui.plain(c.detail)}")


def offer_pending(job: Job) -> None:
    """A new key whose check could not reach the provider: store it as PENDING in one click (the key kept here)."""
    kept = st.session_state.get(KEPT_KEY)
    if job.error is None or not inconclusive(job.error.code) or not kept or kept["job"] != job.id:
        return
    kept["offered"] = True
    st.button(
        "Store it as PENDING (no need to paste it again)",
        key="setup_store_pending",
        type="primary",
        on_click=store_pending,
        help="Stored without asking the provider; re-validate it when the provider answers again.",
    )


def show_outcome(kind: str, job: Job, context: dict[str, Any]) -> None:
    if kind == "test":
        show_test_outcome(job, context)
        return
    if job.error is not None:
        if kind == "setup":  # the key entered was not stored: no re-validating it; a rotation kept the current key
            key_kind, rotation = context.get("key_kind"), bool(context.get("rotation"))
            _ui.show_error(job.error, org, provider, kind=key_kind, stored=False, rotation=rotation)
            offer_pending(job)
        else:
            stored_kind = svc.get_one(org, provider).credential_kind
            _ui.show_error(job.error, org, provider, kind=stored_kind.value if stored_kind else None)
        return
    result = job.result
    if kind == "setup":
        st.success(f"{result.message} Credential id `{result.credential_id}`.")
        if result.error is not None:  # keyless, waiting on the customer: what to do, as plain text
            _keyless.show_error(result.error.code, result.error.message, result.error.hint)
        elif result.validation_status.value == "PENDING":
            st.warning("Validation skipped: the credential is stored as PENDING until re-validated.")
    else:
        (st.success if result.success else st.error)(_ui.plain(result.message))
        if not result.success:  # rejected or inconclusive: the walkthroughs and Diagnose are one click away
            _ui.troubleshoot_link(org, provider)
    _ui.show_capabilities(result.capabilities)
    for w in result.warning_details:  # objects: the code and its fix, not a string to read apart
        st.warning(f"`{w.code}`: {_ui.plain(w.message)}\n\n**Fix:** {_ui.plain(w.fix)}")
    if getattr(result, "keyless", None) is not None or any(c.name.startswith("token for") for c in result.checks):
        _keyless.show_checks(result.checks)  # keyless: identities and tables, shown as data
        return
    for c in result.checks:
        st.caption(f"{'✅' if c.passed else '❌'} {c.name} {_ui.plain(c.detail)}")


# --- a job started here (now, or before the operator left): wait for it, then show its outcome ---------------
kept = st.session_state.get(KEPT_KEY)
if kept and (kept["offered"] or (kept["org"], kept["provider"]) != (org, provider)):
    st.session_state.pop(KEPT_KEY)  # offered once and not taken, or another integration: the key is dropped
mine = st.session_state.get(JOB_KEY)
if mine and (mine["org"], mine["provider"]) == (org, provider):
    job = _ui.jobs().get(mine["id"])
    if job is None:
        st.session_state.pop(JOB_KEY)
    else:
        _ui.wait_for(job, STEPS)
        _ui.changed()
        st.session_state.pop(JOB_KEY)
        show_outcome(mine["kind"], job, mine)
        if not st.session_state.get(KEPT_KEY, {}).get("offered"):
            st.session_state.pop(KEPT_KEY, None)  # stored, or refused for good: the key is not kept
_ui.show_flash()

# --- the integration as it is now ----------------------------------------------------------------------------
current = svc.get_one(org, provider)
loaded = (org, provider, current.credential_id)
if st.session_state.get(LOADED_KEY) != loaded or "setup_credential_name" not in st.session_state:
    # a new context, a new credential, or the form was not on screen: it starts from the current name and metadata
    st.session_state["setup_credential_name"] = current.credential_name or ""
    st.session_state["setup_metadata"] = json.dumps(current.metadata, indent=1) if current.metadata else ""
    st.session_state[LOADED_KEY] = loaded

with st.container(border=True):
    st.subheader(f"{org} · {label}")
    facts = {
        "Status": _ui.badge(current.status.value),
        "Credential": current.credential_hint or "—",
        "Kind": current.credential_kind.label if current.credential_kind else "—",
        "Name": current.credential_name or "—",
        "Last validated": f"{current.last_validated_at:%Y-%m-%d %H:%M} UTC" if current.last_validated_at else "never",
    }
    for col, (name, value) in zip(st.columns([1, 2, 1, 1, 1]), facts.items(), strict=True):
        col.caption(name)
        col.text(value)  # tenant text (name, service-account e-mail) is never Markdown
    if current.credential_id and (current.data_status is not None or current.expiry is not None):
        _ui.freshness_facts(current)  # is its cost data arriving, and when does the key expire
    if current.metadata:
        st.caption("Metadata")
        st.code(json.dumps(current.metadata, indent=1), language=None)
    if current.error and current.credential_kind == CredentialKind.KEYLESS:
        _keyless.show_error(current.error.code, current.error.message, current.error.hint)
    elif current.error:
        st.warning(
            f"`{current.error.code}`: {_ui.plain(current.error.message)}\n\n**Fix:** {_ui.plain(current.error.hint)}"
        )
    if current.credential_id:
        b1, b2, b3 = st.columns(3)
        b1.button("Re-validate", key="validate", width="stretch", on_click=revalidate)
        if b2.button("Rotate", key="rotate", width="stretch"):
            st.info(
                "Enter the new credential below; the name and metadata are kept unless you change them. When it is "
                "stored, the current one is deactivated and its ciphertext erased, in one transaction."
            )
        if b3.button("Delete", key="delete", type="secondary", width="stretch"):
            st.session_state[CONFIRM_KEY] = (org, provider)
        if st.session_state.get(CONFIRM_KEY) == (org, provider):
            st.error(f"Delete the {label} credential of {org}? The ciphertext is erased; the history is kept.")
            c1, c2 = st.columns(2)
            c1.button("Yes, delete", key="delete_confirm", type="primary", on_click=delete)
            _ui.danger("delete_confirm")
            c2.button("Cancel", key="delete_cancel", on_click=lambda: st.session_state.pop(CONFIRM_KEY, None))

# --- the form: every field but the secret survives a failed submit ------------------------------------------
st.subheader("Rotate the credential" if current.credential_id else "Set up a credential")
keyless = provider == "GCP" and _keyless.mode(current) == _keyless.KEYLESS


def credential_form() -> None:
    with st.form("setup_form"):
        if provider == "GCP":
            st.file_uploader(
                "Service-account key file (JSON)",
                type=["json"],
                key=f"setup_key_file_{st.session_state.get(UPLOADS_KEY, 0)}",
            )
            st.text_input(
                "…or paste the key JSON",
                key="setup_credential",
                type="password",
                placeholder='{"type": "service_account"…',
            )
        else:
            st.text_input("API key", key="setup_credential", type="password", placeholder="sk-...")
        st.text_input("Credential name", key="setup_credential_name", placeholder="e.g. Production key")
        st.text_area(
            "Metadata (JSON object)", key="setup_metadata", height=80, placeholder='{"environment": "production"}'
        )
        st.checkbox(
            "Skip validation (store as PENDING)",
            key="setup_skip_validation",
            help="The credential is stored without asking the provider. Use it only when the "
            "provider is down and you will re-validate later.",
        )
        s1, s2, _ = st.columns([2, 2, 3])
        s1.form_submit_button("Validate and save", type="primary", key="setup_submit", on_click=submit)
        s2.form_submit_button(
            "Test (don't save)",
            key="setup_test",
            on_click=test_key,
            help="Check the key with the provider without storing it: no status change; counts as an attempt.",
        )


if keyless:
    _keyless.panel(svc, org, current, start_keyless)
else:
    credential_form()

# --- the history of this integration -------------------------------------------------------------------------
st.subheader("History")
history = svc.history(org, provider)  # bounded: the last 90 days, 20 rows
if history.empty:
    st.caption("Nothing recorded in the last 90 days.")
else:
    st.dataframe(
        _ui.blank(
            _ui.for_people(
                history[["at", "action", "outcome", "status_before", "status_after", "error_code", "actor", "message"]]
            )
        ),
        key="setup_history",
        hide_index=True,
        width="stretch",
        column_config={
            "at": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "action": "Action",
            "outcome": "Outcome",
            "status_before": "Before",
            "status_after": "After",
            "error_code": "Code",
            "actor": "Actor",
            "message": st.column_config.TextColumn("Message", width="large"),
        },
    )
