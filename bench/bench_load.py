"""What loading the pack costs: `import ltx2_nodes` (what ComfyUI does at start) against a bare
interpreter, and against an interpreter that already holds torch (as ComfyUI does), in one run.

    python bench/bench_load.py [--runs 7]

Prints median wall times, the pack's own cost, the ratios, and whether torch, PyAV or httpx were
imported by loading the pack (they must not be).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

BASE = "pass"
PACK = "import ltx2_nodes"
TORCH = "import torch"
TORCH_PACK = "import torch; import ltx2_nodes"
HEAVY_CHECK = "import sys, ltx2_nodes; print(sorted(m for m in ('torch', 'av', 'httpx', 'numpy', 'PIL') if m in sys.modules))"


def median_seconds(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    median_seconds(PACK, 1)  # warm the file cache
    bare, pack = median_seconds(BASE, args.runs), median_seconds(PACK, args.runs)
    torch_only, torch_pack = median_seconds(TORCH, args.runs), median_seconds(TORCH_PACK, args.runs)
    heavy = subprocess.run(
        [sys.executable, "-c", HEAVY_CHECK], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"{'interpreter':<34}{bare * 1000:8.1f} ms")
    print(
        f"{'interpreter + import ltx2_nodes':<34}{pack * 1000:8.1f} ms   pack's own cost {(pack - bare) * 1000:6.1f} ms"
    )
    print(
        f"{'with torch loaded (as in ComfyUI)':<34}{torch_pack * 1000:8.1f} ms   pack's own cost {(torch_pack - torch_only) * 1000:6.1f} ms"
    )
    print(
        f"ratio pack/bare interpreter: {pack / bare:.2f}x; ratio (torch+pack)/torch: {torch_pack / torch_only:.3f}x"
    )
    print(f"heavy modules imported by loading the pack: {heavy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
