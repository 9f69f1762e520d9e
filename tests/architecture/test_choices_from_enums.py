"""Pages, the CLI and the notebooks list choices from the enums and the provider registry, never retyped: a list of
two or more values of one enum spelled out as literals is how the Audit log once offered 7 of 8 actions, and how a
new provider would be missing from a filter."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from integrations import domain, views

ROOT = Path(__file__).resolve().parents[2]
ENUMS: list[type[StrEnum]] = [
    domain.Provider,
    domain.Status,
    domain.Action,
    domain.Outcome,
    domain.CredentialKind,
    domain.DataStatus,
]
VOCABULARIES = [{m.value for m in e} for e in ENUMS] + [set(views.ATTENTION), set(views.AGE_BUCKETS)]
# deliberate subsets, not choice lists: the statuses of a configured integration (KPIs and chart colours)
SUBSETS = [{domain.Status.VALID.value, domain.Status.INVALID.value, domain.Status.PENDING.value}]


def _sources() -> Iterator[tuple[str, str]]:
    cli = [*ROOT.glob("lib/integrations/cli*.py"), *ROOT.glob("lib/integrations/cli/*.py")]  # modules or a package
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted(cli)]:
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
                yield f"{path.relative_to(ROOT).as_posix()} cell {i}", code


def _retyped(code: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.List | ast.Tuple | ast.Set) and len(node.elts) >= 2:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if set(values) in SUBSETS or len(values) < len(node.elts):
                continue
            if any(set(values) <= vocabulary for vocabulary in VOCABULARIES):
                found.append(f"line {node.lineno}: {values}")
    return found


def test_no_page_cli_or_notebook_retypes_an_enums_values() -> None:
    retyped = {where: hits for where, code in _sources() if (hits := _retyped(code))}
    assert retyped == {}


def test_the_check_finds_a_retyped_list() -> None:
    assert _retyped('st.multiselect("Provider", ["OPENAI", "ANTHROPIC", "GCP"])') != []
    assert _retyped('st.multiselect("Provider", [p.value for p in Provider])') == []


def test_every_raise_site_names_its_code_by_the_catalog_enum() -> None:
    """`IntegrationError(Code.X, ...)`, never a string: a typo is a mypy error, not a KeyError at run time."""
    import re

    pattern = re.compile(r'IntegrationError\(\s*"')
    found = {
        str(path.relative_to(ROOT)): len(pattern.findall(path.read_text(encoding="utf-8")))
        for path in (ROOT / "lib" / "integrations").rglob("*.py")
    }
    assert {p: n for p, n in found.items() if n} == {}
