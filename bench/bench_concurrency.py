"""Independent LTX-2 nodes run concurrently: N text-to-video nodes awaited together against the
emulator, compared in one run with one node alone and with the same N nodes one after another.

    python bench/bench_concurrency.py [--nodes 4] [--processing 3.0]

The emulator's job time stands for the provider's render time, so "N together ~ one alone" shows
the nodes overlap their waiting instead of queueing behind each other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time

from ltx2_nodes.api.emulator import EmulatorConfig, RunningEmulator


async def run_nodes(seeds: list[int], together: bool) -> float:
    from ltx2_nodes.nodes.generation import LTX2TextToVideo

    def call(seed: int):
        return LTX2TextToVideo().generate(
            provider="GMI Cloud",
            model="auto",
            prompt="a paper boat on a canal",
            duration=6,
            resolution="auto",
            fps="25",
            aspect_ratio="auto",
            camera_motion="none",
            generate_audio=False,
            seed=seed,
            force_rerun=True,
        )

    start = time.perf_counter()
    if together:
        await asyncio.gather(*(call(s) for s in seeds))
    else:
        for s in seeds:
            await call(s)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--processing", type=float, default=3.0, help="seconds each emulated job takes")
    args = parser.parse_args()
    config = EmulatorConfig(queue_seconds=0.3, processing_seconds=args.processing, max_render_side=128)
    with RunningEmulator(config) as emu, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(emu.env())
        os.environ.update(
            {
                "LTX2_DATA_DIR": tmp,
                "LTX2_OUTPUT_DIR": tmp,
                "LTX2_POLL_INTERVAL": "0.2",
                "LTX2_RESULT_CACHE": "0",
            }
        )
        asyncio.run(run_nodes([0], True))  # warm up imports and connections
        one = asyncio.run(run_nodes([1], True))
        together = asyncio.run(run_nodes(list(range(10, 10 + args.nodes)), True))
        sequential = asyncio.run(run_nodes(list(range(20, 20 + args.nodes)), False))
        submits = emu.emulator.submit_requests["gmi"]
    n = args.nodes
    print(f"one node alone            {one:7.2f} s")
    print(f"{n} nodes together         {together:7.2f} s   ratio to one node {together / one:5.2f}x")
    print(f"{n} nodes one after another {sequential:6.2f} s   ratio to one node {sequential / one:5.2f}x")
    print(
        f"together is {sequential / together:.2f}x faster than one after another; {submits} submits for {2 + 2 * n} runs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
