"""The format check's worst case (issue 28): CPU seconds per input over the property test's PEM and DER shapes,
and over the named attacks (grafted primes, whitespace runs), printed by `make bench`.

Runs the property tests of tests/security/test_attack_key_numbers.py themselves (same strategies, same seed), so
the corpus measured here is the one the guarantee (< 1 s per input) is tested on."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from tests.security import conftest as figures
from tests.security import test_attack_key_numbers as corpus
from tests.security.attacks import grafted_rsa_numbers, key_file_with, pem_of, rsa_der


def _cpu(work: Callable[[], object]) -> float:
    gc.collect()
    started = time.process_time()
    work()
    return time.process_time() - started


def bench_format_check(line: Callable[[str, str], None]) -> None:
    figures.FIGURES.clear()
    corpus.test_any_pem_shape_costs_under_a_second_of_cpu()
    corpus.test_any_der_shape_costs_under_a_second_of_cpu()
    corpus.test_the_largest_accepted_key_is_checked_in_bounded_time()
    named = {
        "4096-bit modulus, 8192-bit primes (N1)": key_file_with(pem_of(rsa_der(grafted_rsa_numbers(4096, 8192)))),
        "16,000 spaces after BEGIN (N2)": key_file_with("-----BEGIN PRIVATE KEY-----" + " " * 16_000 + "-"),
    }
    worst_named = {name: _cpu(lambda text=text: corpus.format_check(text)) for name, text in named.items()}
    shapes = int(figures.FIGURES["format-check shapes run (PEM)"] + figures.FIGURES["format-check shapes run (DER)"])
    worst = max(
        figures.FIGURES["CPU seconds of the format check, worst PEM shape"],
        figures.FIGURES["CPU seconds of the format check, worst DER shape"],
        figures.FIGURES["CPU seconds of the format check, largest accepted key"],
        *worst_named.values(),
    )
    line(f"format check, worst CPU per input over {shapes} PEM/DER shapes + 3", f"{worst:.3f}s (guarantee < 1 s)")
    line(
        "  worst PEM shape / worst DER shape",
        f"{figures.FIGURES['CPU seconds of the format check, worst PEM shape']:.3f}s / "
        f"{figures.FIGURES['CPU seconds of the format check, worst DER shape']:.3f}s",
    )
    line(
        "  largest accepted key (4096-bit, full check)",
        f"{figures.FIGURES['CPU seconds of the format check, largest accepted key']:.3f}s",
    )
    for name, spent in worst_named.items():
        line(f"  {name}", f"{spent:.3f}s")
