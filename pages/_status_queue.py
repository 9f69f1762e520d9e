"""The status page's attention queue: KPIs that filter it, the filters, one page of rows at a time, the operator's
selection kept by (org, provider) key across re-sorts, filters and pages, and the actions on it.

Only one page of the queue is sent to the browser (at 10,000 orgs the whole queue is 30,000 rows: megabytes of
Arrow and seconds of drawing); the filters, the counts and the selection work on the whole queue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from integrations import IntegrationError, Provider
from integrations.labels import label as said
from integrations.views import ATTENTION, KPIS, attention_queue, filter_queue, kpi_counts, kpi_rows, page_count, page_of

from pages import _ui

PAGE_SIZE = 50  # rows sent to the browser per page of the queue
CONFIRM_ALL, PLAN_KEY = "confirm_revalidate_all", "reconcile_plan"
TABLE_KEY, SELECTED_KEY, SHOWN_KEY, SET_ROWS_KEY = "overview_table", "selected_keys", "shown_keys", "set_rows"
KPI_KEY, PAGE_KEY, FILTERS_KEY, GRID_KEY = "kpi_filter", "queue_page", "queue_filters_seen", "queue_grid_key"
FILTER_KEYS = ("filter_org", "filter_provider", "filter_attention", "filter_stale", "filter_unconfigured", KPI_KEY)


@dataclass(frozen=True)
class Queue:
    rows: pd.DataFrame  # the whole filtered queue, in its order
    selected: pd.DataFrame  # the chosen rows among them (on any page)


@st.cache_resource(max_entries=8, show_spinner=False)
def _queue(version: str, stale_days: float, kpi: str | None, _frame: pd.DataFrame) -> pd.DataFrame:
    """The attention queue of one overview (`version`), kept while that overview is (read-only: shared)."""
    if kpi:
        return attention_queue(_frame[kpi_rows(_frame, kpi, stale_days)], stale_days, include_unconfigured=True)
    return attention_queue(_frame, stale_days, include_unconfigured=True)


def kpis(frame: pd.DataFrame) -> None:
    """The counts on top; each count of rows is also a button that filters the queue to exactly those rows (a
    second click clears it)."""
    counts = kpi_counts(frame, st.session_state.get("filter_stale", 30))
    active = st.session_state.get(KPI_KEY)
    cols = st.columns(2 + len(KPIS))
    cols[0].metric("Orgs", f"{counts['Orgs']:,}")
    cols[1].metric("Configured", f"{counts['Configured']:,}")
    for col, (label, key) in zip(cols[2:], KPIS, strict=True):
        col.metric(label, f"{counts[key]:,}")
        col.button(
            "✓ Shown" if active == key else "Show",
            key=f"kpi_{key.lower().replace(' ', '_')}",
            type="tertiary",
            help=f"Show only these rows in the queue ({label.lower()})" if active != key else "Show all rows again",
            on_click=_pick_kpi,
            args=(None if active == key else key,),
        )


def _pick_kpi(key: str | None) -> None:
    st.session_state[KPI_KEY] = key
    st.session_state[PAGE_KEY] = 1


def chosen_keys() -> list[str]:
    """The operator's chosen rows as "org|provider" keys. When the grid's ticks differ from those this page set
    last, the operator ticked or unticked rows: their positions are read in the order the grid showed then (that
    page of the queue). Chosen rows on other pages or hidden by the filters stay chosen."""
    chosen = list(st.session_state.get(SELECTED_KEY, []))
    state = st.session_state.get(grid_key())
    rows = list(state["selection"]["rows"]) if state else []
    if rows != st.session_state.get(SET_ROWS_KEY, []):
        shown = st.session_state.get(SHOWN_KEY, [])
        on_screen = set(shown)
        chosen = [k for k in chosen if k not in on_screen] + [shown[i] for i in rows if 0 <= i < len(shown)]
        st.session_state[SELECTED_KEY] = chosen
    return chosen


def grid_key() -> str:
    """The grid's widget key: a new one whenever it shows other rows (a re-sort, a filter, a page). The browser
    can send back the ticks of an earlier draw (a request made before the last draw reached it: an operator
    filtering right after an action re-sorted the queue); under the earlier key they are not read as positions
    in the rows shown now."""
    return str(st.session_state.get(GRID_KEY, TABLE_KEY))


def _filters_changed() -> bool:
    seen = tuple(repr(st.session_state.get(k)) for k in FILTER_KEYS)
    changed = st.session_state.get(FILTERS_KEY) not in (None, seen)
    st.session_state[FILTERS_KEY] = seen
    return changed


def queue(frame: pd.DataFrame) -> Queue:
    """Filters, then one page of the queue in a grid whose ticks are set from the chosen keys."""
    with st.container(border=True):
        f0, f1, f2, f3, f4 = st.columns([2, 2, 2, 1, 1.7])  # the toggle's label whole at 1,400 px
        org_text = f0.text_input("Org", key="filter_org", placeholder="part of a slug")
        providers = f1.multiselect("Provider", [p.value for p in Provider], key="filter_provider", format_func=said)
        reasons = f2.multiselect(
            "Needs", ATTENTION, key="filter_attention", help="Why a row is listed", format_func=said
        )
        stale_days = f3.number_input("Stale after (days)", min_value=1, value=30, key="filter_stale")
        show_unconfigured = f4.toggle("Show not configured", key="filter_unconfigured")
    kpi = st.session_state.get(KPI_KEY)
    if _filters_changed():  # another set of rows: back to its first page
        st.session_state[PAGE_KEY] = 1

    rows = _queue(frame.attrs.get("version", ""), float(stale_days), kpi, frame)
    if not show_unconfigured and not kpi:
        rows = rows[rows.attention != "Not configured"]
    rows = filter_queue(rows, org_text, providers, reasons)

    # The grid's selection is a list of row positions, and rows move (a re-validation re-sorts the queue, a
    # filter hides rows, a page shows others): the operator's choice is kept as (org, provider) keys, and the
    # grid's ticks are set from them on every run, so an action acts on the rows chosen, wherever they are now.
    keys = rows.org_slug + "|" + rows.provider
    chosen = chosen_keys()
    chosen_set = set(chosen)
    picked = keys.isin(chosen_set)
    pages = page_count(len(rows), PAGE_SIZE)
    page = min(max(1, int(st.session_state.get(PAGE_KEY, 1))), pages)
    shown = page_of(rows, page, PAGE_SIZE)
    shown_keys = keys.iloc[shown.index].tolist()
    ticks = [i for i, k in enumerate(shown_keys) if k in chosen_set]
    if shown_keys != st.session_state.get(SHOWN_KEY):
        st.session_state.pop(grid_key(), None)
        st.session_state[GRID_KEY] = f"{TABLE_KEY}_{uuid.uuid4().hex[:8]}"
    st.session_state[SHOWN_KEY], st.session_state[SET_ROWS_KEY] = shown_keys, ticks
    st.session_state[grid_key()] = {"selection": {"rows": ticks, "columns": [], "cells": []}}
    hidden = len(chosen) - int(picked.sum())
    label = dict((k, lbl) for lbl, k in KPIS).get(kpi or "")
    st.caption(
        f"{len(rows):,} of {len(frame):,} integrations"
        + (f" ({label.lower()}: click its KPI again to show all)" if label else "")
        + (f" · {int(picked.sum())} selected" if chosen else "")
        + (f" ({hidden} more selected but hidden by the filters: not acted on)" if hidden else "")
        + (f" · rows {shown.index[0] + 1:,}-{shown.index[-1] + 1:,}" if len(shown) and pages > 1 else "")
    )
    st.container(key=TABLE_KEY).dataframe(  # the container's key names the grid in the page (CSS, tests)
        _ui.blank(
            _ui.for_people(shown).assign(
                status=shown.status.map(_ui.badge), cached_status=shown.cached_status.map(_ui.badge)
            )
        ),
        key=grid_key(),
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        width="stretch",
        column_order=[c for c in shown.columns if c != "credential_id"],
        column_config={
            "attention": "Needs",
            "org_slug": "Org",
            "provider": "Provider",
            "status": "Status (record)",
            "data_status": "Cost data",
            "error_code": "Error",
            "fix": st.column_config.TextColumn("Fix", width="large"),
            "problem_class": st.column_config.TextColumn("Who acts", help="Who must act on the last problem"),
            "cached_status": "Status (cache)",
            "credential_name": "Name",
            "credential_hint": "Credential",
            "last_validated_at": st.column_config.DatetimeColumn("Last validated", format="YYYY-MM-DD HH:mm"),
            "age": "Validated",
        },
    )
    if pages > 1:
        pager(pages)
    if chosen:
        st.button(
            "Clear selection", key="clear_selection", on_click=lambda: st.session_state.update({SELECTED_KEY: []})
        )
    return Queue(rows=rows, selected=rows[picked.to_numpy()])


def pager(pages: int) -> None:
    """Previous / page number / next: the page is kept in the session (a filter goes back to page 1)."""
    page = min(max(1, int(st.session_state.get(PAGE_KEY, 1))), pages)
    st.session_state[PAGE_KEY] = page
    prev, number, nxt, _ = st.columns([1.4, 2, 1, 5.6], vertical_alignment="bottom")
    prev.button("‹ Previous", key="queue_prev", disabled=page <= 1, on_click=_turn, args=(-1, pages))
    number.number_input(f"Page (of {pages:,}, {PAGE_SIZE} rows each)", 1, pages, key=PAGE_KEY)
    nxt.button("Next ›", key="queue_next", disabled=page >= pages, on_click=_turn, args=(1, pages))


def _turn(step: int, pages: int) -> None:
    st.session_state[PAGE_KEY] = min(max(1, int(st.session_state.get(PAGE_KEY, 1)) + step), pages)


def revalidate(targets: list[str] | None, count: int) -> None:
    st.session_state.pop(CONFIRM_ALL, None)
    noun = "credential" if count == 1 else "credentials"
    _ui.start_bulk(f"Re-validating {count} {noun}", targets=targets)


def reconcile() -> None:
    st.session_state.pop(PLAN_KEY, None)
    try:
        _ui.flash("success", f"Fixed {_ui.service().reconcile(actor=_ui.actor()).fixed} drift(s).")
    except IntegrationError as exc:
        _ui.flash("error", f"`{exc.code}`: {_ui.plain(exc.message)}")
    _ui.changed()


def actions(frame: pd.DataFrame, chosen: Queue) -> None:
    """Open the one chosen row's pages; re-validate the chosen rows or all (confirmed); reconcile (previewed)."""
    selected = chosen.selected
    if len(selected) == 1:
        row = selected.iloc[0]
        c1, c2 = st.columns(2)
        pair = f"{row.org_slug} · {said(row.provider)}"  # a slug (lower case, digits, dashes) and a label
        if c1.button(f"Open setup for {pair}", key="open_setup"):
            _ui.open_page("pages/setup.py", row.org_slug, row.provider)
        if c2.button(f"Troubleshoot {pair}", key="open_troubleshooting"):
            _ui.open_page("pages/troubleshooting.py", row.org_slug, row.provider)

    configured = int((frame.status != "NOT_CONFIGURED").sum())
    busy = _ui.jobs().running(_ui.BULK) is not None
    targets = [str(c) for c in selected.credential_id.dropna()]
    a1, a2, a3 = st.columns(3)
    a1.button(
        f"Re-validate selected ({len(targets)})",
        key="revalidate_selected",
        disabled=not targets or busy,
        on_click=revalidate,
        args=(targets, len(targets)),
    )
    if a2.button("Re-validate all…", key="revalidate_all", disabled=busy or not configured):
        st.session_state[CONFIRM_ALL] = True
    if a3.button("Reconcile the status cache…", key="reconcile_preview"):
        st.session_state[PLAN_KEY] = _ui.service().reconcile(dry_run=True).model_dump(mode="json")
    if st.session_state.get(CONFIRM_ALL):
        st.warning(f"Re-validate all {configured:,} configured credentials with their providers?")
        y, n = st.columns(2)
        y.button(
            f"Yes, re-validate {configured:,}",
            key="revalidate_all_confirm",
            type="primary",
            disabled=busy,
            on_click=revalidate,
            args=(None, configured),
        )
        n.button("Cancel", key="revalidate_all_cancel", on_click=lambda: st.session_state.pop(CONFIRM_ALL, None))
    plan = st.session_state.get(PLAN_KEY)
    if plan is not None:
        if not plan["drifts"]:
            st.info("No drift: the status cache agrees with the system of record.")
        else:
            drifts = _ui.blank(pd.DataFrame(plan["drifts"]))
            st.dataframe(drifts, hide_index=True, key="reconcile_drifts", column_config=_ui.headers(drifts))
            st.button(f"Fix {len(plan['drifts'])} drift(s)", key="reconcile_apply", type="primary", on_click=reconcile)
