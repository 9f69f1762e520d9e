"""Task shares and limits: a stable hash splits credentials disjointly and completely; limits split to the whole."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from hypothesis import given
from hypothesis import strategies as st
from integrations.domain import Provider
from integrations.fingerprint import task_of
from integrations.taskspec import TaskLimits
from integrations.usecases.runs import kms_limiter


@given(st.lists(st.uuids().map(str), unique=True, max_size=200), st.integers(1, 64))
def test_shares_are_disjoint_and_cover_every_credential(ids: list[str], count: int) -> None:
    shares = [{c for c in ids if task_of(c, count) == i} for i in range(count)]
    assert sum(len(s) for s in shares) == len(ids) and set().union(*shares) == set(ids)


def test_the_share_is_the_same_in_every_process_whatever_its_hash_seed() -> None:
    ids = [str(uuid.uuid4()) for _ in range(50)]
    code = f"from integrations.fingerprint import task_of; print([task_of(c, 7) for c in {ids!r}])"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env=os.environ | {"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "random")
    }
    assert seen == {f"{[task_of(c, 7) for c in ids]}\n"}


@given(st.integers(1, 512), st.integers(1, 60_000), st.integers(1, 16))
def test_task_limits_add_up_to_the_runs(concurrency: int, kms: int, count: int) -> None:
    whole = TaskLimits(concurrency=concurrency, rates={Provider.OPENAI: 10.0}, kms_per_minute=kms)
    shares = [whole.share(count, i) for i in range(count)]
    assert sum(s.kms_per_minute for s in shares) == kms or kms < count  # a task never gets a zero budget
    assert sum(s.concurrency for s in shares) == concurrency or concurrency < count
    assert abs(sum(s.rates[Provider.OPENAI] for s in shares) - 10.0) < 1e-9


def test_the_kms_budget_refuses_a_decrypt_past_it() -> None:
    limiter = kms_limiter(120)  # 2 a second, 120 a minute
    assert [limiter.try_acquire("kms", blocking=False) for _ in range(3)] == [True, True, False]


def test_the_share_rule_is_bigquerys_farm_fingerprint_as_googlesql_evaluates_it() -> None:
    """task_of is MOD(ABS(FARM_FINGERPRINT(id)), n): the pure-Python FarmHash agrees with ZetaSQL's reference
    evaluator on every length path (0-16, 17-32, 33-64 and longer) and on non-ASCII text."""
    from zetasql.api.prepared_expression import PreparedExpression
    from zetasql.api.value import Value

    from tests.doubles.bigquery import Analyzer

    analyzer = Analyzer.get()
    catalog = analyzer.api.CatalogBuilder("bigquery").with_builtin_functions(analyzer.builtins).build()
    options = analyzer.types.AnalyzerOptions(language_options=analyzer.language)
    expression = PreparedExpression("MOD(ABS(FARM_FINGERPRINT(@s)), 7)", options, catalog)
    texts = ["", "a", "1footrue", str(uuid.uuid4()), "cred_" + "x" * 27, "é漢" * 11, "z" * 65, "q" * 300]
    for text in texts:
        assert expression.execute(parameters={"s": Value.string(text)}).get_int64() == task_of(text, 7), text
