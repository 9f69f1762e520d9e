"""Status overview: the attention queue, KPIs that follow every action, bulk re-validation of exactly the selected
rows, confirmation for "all", the bulk run's progress in every page's sidebar, reconcile, charts, many orgs."""

from __future__ import annotations

import json
import threading
import time

import pytest
from integrations import IntegrationService, Provider, Status
from integrations.domain import Action
from integrations.labels import LABELS
from integrations.taskspec import TaskSpec
from integrations.views import ATTENTION
from streamlit.testing.v1 import AppTest

from pages import _status_queue, _ui
from tests.console.conftest import ROOT, app, rendered
from tests.keys import openai_key
from tests.servers import refused_url


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def checks(svc: IntegrationService) -> list[tuple[str, str]]:
    return sorted((e.org_slug, e.provider.value) for e in svc.store.events() if e.action == Action.VALIDATE)


def values(frame):
    """A grid's rows with the labels it draws (OpenAI, Pending, Tenant) read back as the values the page acts on."""
    back = {said: value for value, said in LABELS.items()} | {said: value for value, said in _ui.WHO_ACTS.items()}
    columns = [c for c in (*_ui.ENUM_COLUMNS, "problem_class", "before", "after") if c in frame.columns]
    return frame.assign(**{c: frame[c].map(lambda v: back.get(v, v)) for c in columns})


def select(at, *pairs: tuple[str, str]):
    table = values(at.dataframe[0].value)
    rows = [int(i) for i, r in table.iterrows() if (r.org_slug, r.provider) in pairs]
    assert len(rows) == len(pairs)
    at.session_state[at.session_state["queue_grid_key"]] = {"selection": {"rows": rows, "columns": []}}
    return at.run()


def test_kpis_match_the_library(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    frame = demo.overview()
    assert metrics(at) == {
        "Orgs": str(frame.org_slug.nunique()),
        "Configured": str((frame.status != "NOT_CONFIGURED").sum()),
        "Valid": str((frame.status == "VALID").sum()),
        "Invalid": str((frame.status == "INVALID").sum()),
        "Pending": str((frame.status == "PENDING").sum()),
        "Drifted": "1",
        "Data late": "0",
        "Stale": "3",  # the two keyless ones waiting on the customer and globex's unchecked key: never validated
    }


@pytest.mark.parametrize(
    ("kpi", "button", "rows"),
    [
        ("Invalid", "kpi_invalid", {("globex", "OPENAI"), ("umbrella", "GCP")}),
        ("Drifted", "kpi_drift", {("hooli", "ANTHROPIC")}),
        ("Pending", "kpi_pending", None),
        ("Stale", "kpi_stale", None),
    ],
)
def test_a_kpi_filters_the_queue_to_the_rows_it_counts(demo: IntegrationService, kpi, button, rows) -> None:
    """Issue 27: KPIs that filter. Clicking a count shows exactly the rows counted; a second click shows all."""
    at = app("pages/status.py")
    everything = len(_queue(at))
    at.button(key=button).click().run()
    table = _queue(at)
    assert len(table) == int(metrics(at)[kpi]) > 0
    if rows is not None:
        assert set(zip(table.org_slug, table.provider, strict=True)) == rows
    if kpi == "Pending":
        assert set(table.status) == {_ui.badge("PENDING")}
    at.button(key=button).click().run()
    assert len(_queue(at)) == everything


def test_a_kpi_filter_and_the_other_filters_combine(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    at.button(key="kpi_invalid").click().run()
    at.text_input(key="filter_org").input("umb").run()
    assert list(zip(_queue(at).org_slug, _queue(at).provider, strict=True)) == [("umbrella", "GCP")]


def test_attention_queue_order_with_codes_and_fixes(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    table = values(at.dataframe[0].value)
    assert len(table) == 12, "NOT_CONFIGURED rows are hidden by default"
    assert list(table.attention.astype(str)) == ["INVALID", "INVALID", "Drift"] + ["PENDING"] * 3 + ["OK"] * 6
    assert list(table.columns[:7]) == [
        "attention",
        "org_slug",
        "provider",
        "status",
        "data_status",
        "error_code",
        "fix",
    ]
    assert set(table.error_code[:2]) == {"INVALID_CREDENTIAL", "INSUFFICIENT_PERMISSIONS"}
    assert list(table.problem_class[:3]) == ["tenant_action", "tenant_action", "operator_action"]  # who must act
    assert all(table.fix[:6].str.len() > 10)  # the keyless PENDING ones say what the customer still has to do
    at.toggle(key="filter_unconfigured").set_value(True).run()
    assert len(values(at.dataframe[0].value)) == 18


def test_filters(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    at.multiselect(key="filter_attention").set_value(["INVALID"]).run()
    assert set(values(at.dataframe[0].value).org_slug) == {"globex", "umbrella"}
    at.multiselect(key="filter_attention").set_value(["Drift"]).run()
    table = values(at.dataframe[0].value)
    assert list(zip(table.org_slug, table.provider, strict=True)) == [("hooli", "ANTHROPIC")]
    at.multiselect(key="filter_attention").set_value([])
    at.multiselect(key="filter_provider").set_value(["GCP"]).run()
    assert set(values(at.dataframe[0].value).provider) == {"GCP"}
    at.multiselect(key="filter_provider").set_value([])
    at.text_input(key="filter_org").input("acme").run()
    assert set(values(at.dataframe[0].value).org_slug) == {"acmecorp"} and len(values(at.dataframe[0].value)) == 3


def test_reconcile_preview_then_apply_refreshes_the_page(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    at.button(key="reconcile_preview").click().run()
    assert demo.overview().drift.sum() == 1  # a preview changes nothing
    at.button(key="reconcile_apply").click().run()
    assert "Fixed 1 drift(s)" in at.success[0].value
    assert demo.overview().drift.sum() == 0
    assert metrics(at)["Drifted"] == "0", "the KPIs of the same run show the repaired state"
    assert "Drift" not in set(values(at.dataframe[0].value).attention.astype(str))


def test_revalidate_selected_checks_exactly_the_selected_rows(demo: IntegrationService) -> None:
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)
    at = select(app("pages/status.py"), ("initech", "OPENAI"), ("acmecorp", "GCP"))
    before = checks(demo)
    at.button(key="revalidate_selected").click().run()
    assert not at.exception
    new = checks(demo)
    for pair in before:
        new.remove(pair)
    assert new == [("acmecorp", "GCP"), ("initech", "OPENAI")], "two rows, two checks (no org x provider product)"
    assert "2 checked" in at.success[0].value and "1 status change" in at.success[0].value
    assert "(1 invalid, 1 valid)" in at.success[0].value  # the outcomes as people say them, not INVALID / VALID
    changed = values(at.dataframe[0].value)  # the run's changed rows, above the queue
    rows = list(zip(changed.org_slug, changed.before, changed.after, strict=True))
    assert rows == [("initech", "PENDING", "INVALID")]
    assert metrics(at)["Invalid"] == "3", "KPIs refresh in the same run"


def test_revalidate_all_asks_for_confirmation_with_the_count(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    before = len(checks(demo))
    at.button(key="revalidate_all").click().run()
    assert "Re-validate all 12 configured credentials" in at.warning[0].value
    assert len(checks(demo)) == before, "nothing runs before the confirmation"
    at.button(key="revalidate_all_cancel").click().run()
    assert not at.warning and len(checks(demo)) == before
    at.button(key="revalidate_all").click().run()
    at.button(key="revalidate_all_confirm").click().run()
    assert len(checks(demo)) == before + 12 and "12 checked" in at.success[0].value
    assert metrics(at)["Pending"] == "2"  # the PENDING key was checked (the two keyless ones wait on the customer)


def test_a_bulk_run_shows_in_every_pages_sidebar_and_runs_alone(demo: IntegrationService) -> None:
    gate, svc = threading.Event(), _ui.service()

    def slow(job):  # the real bulk run, held at its start so the test can look around while it "runs"
        gate.wait(30)
        return svc.revalidate_many(progress=job.progress)

    job = _ui.jobs().start(_ui.BULK, "Re-validating 9 credentials", slow, exclusive=True)
    try:
        # app.py draws the sidebar of every page (AppTest keeps it only on a first run; e2e walks the pages)
        at = app()
        assert any("Re-validating 9 credentials: 0/0" in p.proto.text for p in at.sidebar.get("progress"))
        status = app("pages/status.py")
        assert status.button(key="revalidate_all").disabled, "one bulk run at a time"
    finally:
        gate.set()
    while job.running:
        time.sleep(0.05)
    at = app()
    assert any("Last bulk run: 12 checked" in c.value for c in at.sidebar.caption)
    assert demo.get_one("globex", "anthropic").status == Status.VALID


def test_charts_answer_what_needs_attention(demo: IntegrationService) -> None:
    """The charts are in their tab, drawn only when it is open (the runs' tab is open first)."""
    at = app("pages/status.py")
    assert "status per provider" not in rendered(at) and "Run" in [s.label for s in at.selectbox]
    at = AppTest.from_file(str(ROOT / "pages/status.py"), default_timeout=60)
    at.session_state["status_tab"] = "Charts"  # the operator opened the Charts tab
    at.run()
    charts = rendered(at)
    assert "status per provider" in charts and "Time since last validation" in charts
    assert "never validated" in charts and "NOT_CONFIGURED" not in charts
    assert "Run" not in [s.label for s in at.selectbox]  # the runs' tab is closed: not drawn


def test_many_orgs(demo: IntegrationService) -> None:
    for i in range(1500):
        demo.register_org(f"bulk-{i:05d}")  # orgs exist when registered in the store
    for i in range(0, 1500, 50):
        demo.setup(f"bulk-{i:05d}", Provider.OPENAI, openai_key(), skip_validation=True)
    at = app("pages/status.py")
    assert metrics(at)["Orgs"] == "1,506"
    captions = [c.value for c in at.caption]  # the first is the overview's "As of" time
    assert any("42 of 4,518 integrations" in c for c in captions), captions


def last_run_changes(at) -> list[tuple[str, str, str, str]]:
    [table] = [values(d.value) for d in at.dataframe if "status_before" in d.value.columns]
    return list(zip(table.org_slug, table.provider, table.status_before, table.status_after, strict=True))


def test_changes_since_the_last_run_follow_a_revalidation_that_flips(
    demo: IntegrationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)
    at = app("pages/status.py")
    assert ("initech", "OPENAI", _ui.badge("PENDING"), _ui.badge("INVALID")) not in last_run_changes(at)
    monkeypatch.setenv("INTEGRATIONS_ALLOW_HTTP_ENDPOINTS", "true")
    monkeypatch.setenv("INTEGRATIONS_ALERT_WEBHOOK_URL", refused_url() + "/hook/SECRETPATH")  # nothing listens
    at = select(app("pages/status.py"), ("initech", "OPENAI"))
    at.button(key="revalidate_selected").click().run()
    assert not at.exception
    # newest first; the demo's own checks a few seconds earlier belong to the same burst of re-validations
    assert last_run_changes(at)[0] == ("initech", "OPENAI", _ui.badge("PENDING"), _ui.badge("INVALID"))
    caption = next(c.value for c in at.caption if "status change(s), worst first" in c.value)
    assert f"{len(last_run_changes(at))} status change(s)" in caption
    assert any("ALERT\\_DELIVERY\\_FAILED" in w.value for w in at.warning), "the undelivered alert is shown"
    assert "SECRETPATH" not in rendered(at)
    assert "1 status change" in at.success[0].value, "the run itself succeeded"


def _queue(at):
    return values(next(d for d in at.dataframe if d.key == at.session_state["queue_grid_key"]).value)


def _ticked(at) -> list[tuple[str, str]]:
    table = _queue(at)
    rows = at.session_state[at.session_state["queue_grid_key"]]["selection"]["rows"]
    return sorted((table.org_slug.iloc[i], table.provider.iloc[i]) for i in rows)


def test_the_selection_follows_the_rows_through_a_resort_and_a_filter(demo: IntegrationService) -> None:
    """Issue 27: select, re-validate (the queue re-sorts), filter, then act: the action targets the rows chosen."""
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)  # PENDING: INVALID once checked
    at = select(app("pages/status.py"), ("initech", "OPENAI"), ("acmecorp", "GCP"))
    position = list(zip(_queue(at).org_slug, _queue(at).provider, strict=True))
    before = checks(demo)
    at.button(key="revalidate_selected").click().run()
    after = list(zip(_queue(at).org_slug, _queue(at).provider, strict=True))
    assert position.index(("initech", "OPENAI")) != after.index(("initech", "OPENAI")), "the queue re-sorted"
    assert _ticked(at) == [("acmecorp", "GCP"), ("initech", "OPENAI")], "the ticks moved with the rows"
    at.text_input(key="filter_org").input("acme").run()
    assert _ticked(at) == [("acmecorp", "GCP")]
    assert at.button(key="open_setup").label == "Open setup for acmecorp · Google Cloud"
    assert any("1 more selected but hidden" in c.value for c in at.caption)
    at.text_input(key="filter_org").input("").run()
    assert _ticked(at) == [("acmecorp", "GCP"), ("initech", "OPENAI")], "hidden rows stay chosen"
    at.button(key="revalidate_selected").click().run()  # the second click: the same two rows again
    new = checks(demo)
    for pair in before:
        new.remove(pair)
    assert new == [("acmecorp", "GCP"), ("acmecorp", "GCP"), ("initech", "OPENAI"), ("initech", "OPENAI")]


def test_a_filter_never_turns_a_selection_into_another_row(demo: IntegrationService) -> None:
    at = select(app("pages/status.py"), ("umbrella", "GCP"))
    assert at.button(key="open_setup").label == "Open setup for umbrella · Google Cloud"
    at.text_input(key="filter_org").input("acme").run()
    assert not [b for b in at.button if b.key == "open_setup"], "no other org's row is chosen"
    assert at.button(key="revalidate_selected").label == "Re-validate selected (0)"


def test_a_single_check_after_a_bulk_run_keeps_the_run_shown_and_earlier_runs_can_be_picked(
    demo: IntegrationService,
) -> None:
    """Issue 27: a CLI or REST validate after the run used to replace "Changes since the last run"."""
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)
    report = demo.revalidate_many(targets=[("initech", "openai")])  # a bulk run: PENDING -> INVALID
    demo.validate("acmecorp", "openai")  # then a single check, e.g. from the CLI
    at = app("pages/status.py")
    picker = next(s for s in at.selectbox if s.label == "Run")
    assert picker.value == report.run_id, "the bulk run is shown by default"
    assert picker.options[0].startswith("Single checks") and picker.options[1].startswith("Bulk run")
    assert ("initech", "OPENAI", _ui.badge("PENDING"), _ui.badge("INVALID")) in last_run_changes(at)
    single = demo.run_changes().attrs["runs"][0]["run_id"]
    picker.set_value(single).run()
    assert not at.exception
    assert any("Single checks" in c.value and "0 status change(s)" in c.value for c in at.caption)


def test_a_run_of_another_process_shows_as_in_progress_until_it_is_finalized(demo: IntegrationService) -> None:
    """Review M2 (issue 27): a run started outside the console (the CLI, a nightly Cloud Run task) stages its
    results as it goes; the status page used to ask only its own process's jobs, so it read as finished."""
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)
    first = demo.revalidate_task(TaskSpec(run_id="nightly-m2", index=0, count=2))  # task 1 has not run yet
    assert first.checked > 0
    at = app("pages/status.py")
    shown = [i.value for i in at.info if "nightly" in i.value]
    assert shown == [
        f"In progress: nightly run {_ui.plain('nightly-m2')}, {first.checked} checked so far (tasks done 1/2), "
        f"first check {demo.runs_in_progress()[0].first_at:%H:%M:%S} UTC. "
        "Its changes are listed here when it is finalized."
    ]
    assert not any(s.label == "Run" and "nightly-m2" in s.options for s in at.selectbox)
    demo.revalidate_task(TaskSpec(run_id="nightly-m2", index=1, count=2))
    demo.finalize_run("nightly-m2")
    at.run()
    assert not at.exception
    assert not [i for i in at.info if "In progress" in i.value]
    picker = next(s for s in at.selectbox if s.label == "Run")
    assert picker.value == "nightly-m2", "the finalized nightly run is shown with its changes"
    assert ("initech", "OPENAI", _ui.badge("PENDING"), _ui.badge("INVALID")) in last_run_changes(at)


def _many_pending(svc: IntegrationService, count: int) -> None:
    for i in range(count):
        svc.register_org(f"page-{i:03d}")
        svc.setup(f"page-{i:03d}", Provider.OPENAI, openai_key(), skip_validation=True)


def _tick(at, *pairs: tuple[str, str]):
    """Tick these rows of the page shown, keeping the ticks there (what a click in the grid does)."""
    table = _queue(at)
    rows = list(at.session_state[at.session_state["queue_grid_key"]]["selection"]["rows"])
    rows += [i for i, pair in enumerate(zip(table.org_slug, table.provider, strict=True)) if pair in pairs]
    at.session_state[at.session_state["queue_grid_key"]] = {"selection": {"rows": sorted(rows), "columns": []}}
    return at.run()


def test_the_queue_is_sent_one_page_at_a_time_with_the_total(demo: IntegrationService) -> None:
    """Issue 27: at 10,000 orgs the whole queue (30,000 rows) took seconds to send and draw: one page is sent."""
    _many_pending(demo, 60)
    at = app("pages/status.py")
    assert len(_queue(at)) == _status_queue.PAGE_SIZE
    assert any(c.value.startswith("72 of ") and "rows 1-50" in c.value for c in at.caption)
    first = set(zip(_queue(at).org_slug, _queue(at).provider, strict=True))
    at.button(key="queue_next").click().run()
    assert len(_queue(at)) == 22 and any("rows 51-72" in c.value for c in at.caption)
    assert not first & set(zip(_queue(at).org_slug, _queue(at).provider, strict=True))
    at.text_input(key="filter_org").input("page-00").run()  # another set of rows: its first page
    assert len(_queue(at)) == 10 and at.session_state["queue_page"] == 1


def test_select_on_one_page_then_another_then_filter_then_act(demo: IntegrationService) -> None:
    """The operator's order with paging: select on page 1, go to page 2 and select there, filter and re-sort in
    between, then act: exactly the rows chosen are checked."""
    _many_pending(demo, 60)
    at = app("pages/status.py")
    assert ("globex", "OPENAI") in set(zip(_queue(at).org_slug, _queue(at).provider, strict=True))
    at = _tick(at, ("globex", "OPENAI"))  # page 1: the INVALID rows come first
    at.button(key="queue_next").click().run()
    assert _ticked(at) == [], "the tick of page 1 is not drawn on page 2's rows"
    at = _tick(at, ("acmecorp", "GCP"))  # page 2: the OK rows come last
    assert _ticked(at) == [("acmecorp", "GCP")]
    assert any("2 selected" in c.value for c in at.caption)
    at.button(key="queue_prev").click().run()
    assert _ticked(at) == [("globex", "OPENAI")], "page 1's tick is still there"
    at.multiselect(key="filter_provider").set_value(["GCP", "OPENAI"]).run()
    at.multiselect(key="filter_provider").set_value([]).run()
    before = checks(demo)
    assert at.button(key="revalidate_selected").label == "Re-validate selected (2)"
    at.button(key="revalidate_selected").click().run()
    assert not at.exception
    new = checks(demo)
    for pair in before:
        new.remove(pair)
    assert new == [("acmecorp", "GCP"), ("globex", "OPENAI")]


def test_a_stale_echo_of_the_ticks_before_a_resort_is_not_taken_for_a_choice(demo: IntegrationService) -> None:
    """The browser can send back the ticks it had before the re-sort's redraw reached it (an operator typing a
    filter right after the action): those positions name other rows now, and are not taken for a choice."""
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)  # PENDING: INVALID once checked
    at = select(app("pages/status.py"), ("initech", "OPENAI"), ("acmecorp", "GCP"))
    old_key = at.session_state["queue_grid_key"]  # the grid drawn before the re-sort
    old_ticks = list(at.session_state[old_key]["selection"]["rows"])
    at.button(key="revalidate_selected").click().run()
    assert _ticked(at) == [("acmecorp", "GCP"), ("initech", "OPENAI")]
    assert at.session_state[at.session_state["queue_grid_key"]]["selection"]["rows"] != old_ticks, "the rows moved"
    at.session_state[old_key] = {"selection": {"rows": old_ticks, "columns": []}}  # the stale echo
    at.text_input(key="filter_org").input("acme").run()
    assert _ticked(at) == [("acmecorp", "GCP")]
    assert any("1 more selected but hidden" in c.value for c in at.caption)
    at = _tick(at, ("acmecorp", "OPENAI"))  # a real click afterwards is a choice
    assert _ticked(at) == [("acmecorp", "GCP"), ("acmecorp", "OPENAI")]


def test_a_write_of_another_process_shows_at_the_next_render_and_unchanged_data_is_not_read_again(
    demo: IntegrationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overview, the runs and the org list are kept while the store's data version stays the same (no 15 s
    window in which a CLI or REST write is not shown, no read again of unchanged data)."""
    from integrations.usecases import reads

    reads_done: list[str] = []
    for name in ("overview", "run_changes"):
        real = getattr(reads, name)
        monkeypatch.setattr(
            reads, name, lambda *a, _real=real, _name=name, **k: reads_done.append(_name) or _real(*a, **k)
        )
    at = app("pages/status.py")
    before = metrics(at)["Invalid"]
    assert reads_done.count("overview") == 1
    app("pages/status.py")
    assert reads_done.count("overview") == 1 and reads_done.count("run_changes") == 1  # unchanged: kept
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)  # e.g. the CLI, another process
    demo.validate("initech", "openai")
    after = app("pages/status.py")
    assert reads_done.count("overview") == 2
    assert int(metrics(after)["Invalid"]) == int(before) + 1


def test_many_orgs_are_found_by_a_search_not_sent_whole(demo: IntegrationService) -> None:
    """At 10,000 orgs the org picker's every option was redrawn by the browser on each update (a third of the status
    page's first render): past PICKER_LIMIT orgs the picker lists a page of them, searched by a box above it, and
    the chosen org is always among them. (AppTest keeps app.py's sidebar on a first run only: one run each.)"""
    for i in range(300):
        demo.register_org(f"fleet-{i:05d}")
    at = app("app.py", org="fleet-00250")  # beyond the first PICKER_LIMIT
    picker = at.sidebar.selectbox(key=_ui.ORG_KEY)
    assert len(picker.options) == _ui.PICKER_LIMIT + 1 and picker.options[0] == "fleet-00250"
    assert picker.value == "fleet-00250"
    assert at.sidebar.text_input(key=_ui.ORG_FIND_KEY).label == "Find an organization"

    searched = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    searched.session_state[_ui.ORG_KEY] = "fleet-00250"
    searched.session_state[_ui.ORG_FIND_KEY] = "fleet-0012"
    searched.run()
    picker = searched.sidebar.selectbox(key=_ui.ORG_KEY)
    assert picker.options == ["fleet-00250", *[f"fleet-{i:05d}" for i in range(120, 130)]]
    assert picker.value == "fleet-00250"  # the choice stays until another is picked
    assert "10 matches" in [c.value for c in searched.sidebar.caption]


def test_the_queue_shows_providers_and_who_acts_as_people_say_them(demo: IntegrationService) -> None:
    """The grid draws each provider's label and a readable problem class (its cells and its accessible text); the
    page keeps the values the filters and the selection use (the keys of the rows it shows)."""
    at = app("pages/status.py")
    grid = next(d for d in at.dataframe if d.key == at.session_state["queue_grid_key"])
    assert set(grid.value.provider) <= {p.label for p in Provider} and "Google Cloud" in set(grid.value.provider)
    assert {"Tenant", "Operator"} <= set(grid.value.problem_class)
    shown = at.session_state[_status_queue.SHOWN_KEY]
    assert all(key.split("|")[1] in {p.value for p in Provider} for key in shown)  # the values, as actions read them


def test_charts_and_grids_say_labels_while_the_data_keeps_values(demo: IntegrationService) -> None:
    """Issue 27 (raw enum names): the charts' axes and legends and the grids' cells read Valid, Not configured,
    Google Cloud, Stale; the grid's data (what filters, selection and actions read) keeps the values."""
    at = AppTest.from_file(str(ROOT / "pages/status.py"), default_timeout=60)
    at.session_state["status_tab"] = "Charts"
    at.run()
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    mix = next(s for s in specs if "status per provider" in json.dumps(s["title"]))
    assert mix["encoding"]["x"]["title"] == "Provider" and mix["encoding"]["y"]["title"] == "Integrations"
    assert mix["encoding"]["color"]["title"] == "Status"
    assert mix["encoding"]["color"]["scale"]["domain"] == ["Valid", "Invalid", "Pending"]
    at = app("pages/status.py")
    grid = next(d for d in at.dataframe if d.key == at.session_state["queue_grid_key"])
    assert {"Invalid", "Pending"} <= set(grid.value.attention) and not set(grid.value.attention) & {
        "INVALID",
        "PENDING",
    }
    assert set(grid.value.status) <= {_ui.badge(s.value) for s in Status}
    assert "Pending" in _ui.badge("PENDING") and "PENDING" not in _ui.badge("PENDING")
    assert set(values(grid.value).attention) <= set(ATTENTION)  # read back: the values the filters use
