"""Run the benchmark groups (``bench/bench_<group>.py``) and print each figure as ``name: value``.

``python bench/run.py`` runs every group; ``python bench/run.py web`` runs one. Each group module has
``run() -> dict[str, float]``. Figures are plain numbers with the unit in the name, so runs compare.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def groups() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    wanted = argv or groups()
    unknown = sorted(set(wanted) - set(groups()))
    if unknown:
        print(f"unknown group(s): {', '.join(unknown)}; available: {', '.join(groups())}", file=sys.stderr)
        return 2
    for group in wanted:
        module = importlib.import_module(f"bench.bench_{group}")
        for name, value in module.run().items():
            print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
