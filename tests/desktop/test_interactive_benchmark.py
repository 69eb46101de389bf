"""The end-to-end interactive benchmark (benchmarks/interactive.py) runs: a --quick smoke run in a
subprocess (offscreen Qt, the real window, worker and colorizer) prints its table and exits 0. The
numbers themselves are not checked: they depend on the machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK = ROOT / "benchmarks" / "interactive.py"
ROWS = ("click -> first preview", "click -> sharp preview", "blend drag -> first preview", "blend drag -> sharp preview")


def test_quick_interactive_benchmark_prints_its_table(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HEIRLOOM_ALLOW_RANDOM_WEIGHTS="1", HEIRLOOM_HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--timeout", "60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^step\s+median ms\s+best ms\s+target ms\s+runs$", out, re.MULTILINE), out
    for row in ROWS:
        match = re.search(rf"^{re.escape(row)}\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+)\s+1\b", out, re.MULTILINE)
        assert match, f"no measured row '{row}' in:\n{out}"
        median, best, target = (float(v) for v in match.groups())
        assert 0 < best <= median and target in (100, 250)
    assert "timeout" not in out
