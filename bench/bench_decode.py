"""Decode benchmark: one preallocated array vs a list of frames + np.stack.

Makes a test MP4 (default 1280x720, 97 frames), then decodes it in fresh subprocesses, so each
measurement starts from a clean heap:

  ours      ``decode_frames`` writing each frame straight into one float32 [N,H,W,3] array
  baseline  per-frame float arrays collected in a list, then ``np.stack``

For each it reports wall time and peak memory relative to the output array size: the
tracemalloc peak (numpy registers its buffers with tracemalloc) and the growth of the process's
peak resident set (ru_maxrss after decoding minus the resident size before). Time is measured in a run without tracemalloc.

    python bench/bench_decode.py [--width 1280 --height 720 --frames 97 --repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np

MB = 1 << 20


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = 25) -> None:
    """H.264 MP4 of moving shapes, drawn small and scaled up per frame so the script itself stays lean."""
    import av
    from ltx2_nodes.api.media import synth

    scale = 4
    small = synth.test_frames(frames, -(-width // scale), -(-height // scale), seed=7)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(
            "libx264", rate=Fraction(fps, 1), options={"crf": "20", "preset": "veryfast"}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.thread_type = "AUTO"
        for i, image in enumerate(small):
            big = np.ascontiguousarray(image.repeat(scale, 0).repeat(scale, 1)[:height, :width])
            frame = av.VideoFrame.from_ndarray(big, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def decode_ours(path: str) -> np.ndarray:
    from ltx2_nodes.api.media.decode import decode_frames

    return decode_frames(path)


def decode_baseline(path: str) -> np.ndarray:
    """What decoding usually looks like: a float copy per frame, then one more copy to stack."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # same threading as ours: only the memory strategy differs
        frames = [
            frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0 for frame in container.decode(stream)
        ]
    return np.stack(frames)


METHODS = {"ours": decode_ours, "baseline": decode_baseline}


def current_rss() -> int:
    """Resident bytes now (the peak so far may be higher: imports free what they briefly used)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except OSError:  # not Linux: fall back to the peak so far
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(method: str, path: str, trace: bool) -> dict[str, float]:
    """Runs in a fresh interpreter: imports first, so only decoding shows in the figures."""
    import av  # noqa: F401
    import ltx2_nodes.api.media.decode  # noqa: F401

    rss_before = current_rss()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result = METHODS[method](path)
    wall = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak; Linux reports KiB
    return {
        "wall": wall,
        "traced_peak": float(peak),
        "rss_growth": float(rss_after - rss_before),
        "output": float(result.nbytes),
        "shape": list(result.shape),
        "mean": float(result.mean(dtype=np.float64)),
    }


def run_worker(method: str, path: Path, trace: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", method, "--clip", str(path)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=97)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method (best is kept)")
    parser.add_argument("--worker", choices=sorted(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.clip, args.trace)))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "bench.mp4"
        make_clip(clip, args.width, args.height, args.frames)
        print(
            f"clip: {args.width}x{args.height}, {args.frames} frames, {clip.stat().st_size / MB:.1f} MB MP4"
        )
        # A discarded warm-up first: in a VM, the first touch of fresh memory is far slower than
        # later ones and would be charged to whichever method ran first. Then the methods alternate
        # so background load hits both alike; the best time of each is kept.
        run_worker("baseline", clip, trace=False)
        timed: dict[str, list[dict[str, float]]] = {method: [] for method in METHODS}
        for _ in range(max(1, args.repeat)):
            for method in METHODS:
                timed[method].append(run_worker(method, clip, trace=False))
        rows: dict[str, dict[str, float]] = {}
        for method, runs in timed.items():
            traced = run_worker(method, clip, trace=True)
            rows[method] = {
                **min(runs, key=lambda r: r["wall"]),
                "traced_peak": traced["traced_peak"],
                "rss_growth": min(r["rss_growth"] for r in runs),
            }

    ours, base = rows["ours"], rows["baseline"]
    if ours["shape"] != base["shape"] or abs(ours["mean"] - base["mean"]) > 1e-4:
        print(
            f"warning: outputs differ: {ours['shape']} mean {ours['mean']:.6f} vs "
            f"{base['shape']} mean {base['mean']:.6f}"
        )
    out_mb = ours["output"] / MB
    print(f"output array: {ours['shape']} float32 = {out_mb:.1f} MB\n")
    header = f"{'method':<10}{'wall s':>9}{'traced peak MB':>16}{'peak/output':>13}{'RSS growth MB':>15}{'RSS/output':>12}"
    print(header)
    print("-" * len(header))
    for name, row in rows.items():
        print(
            f"{name:<10}{row['wall']:>9.3f}{row['traced_peak'] / MB:>16.1f}{row['traced_peak'] / row['output']:>13.2f}"
            f"{row['rss_growth'] / MB:>15.1f}{row['rss_growth'] / row['output']:>12.2f}"
        )
    print()
    print(
        f"peak/output      ours {ours['traced_peak'] / ours['output']:.2f}   "
        f"baseline {base['traced_peak'] / base['output']:.2f}"
    )
    print(
        f"baseline/ours    traced peak {base['traced_peak'] / ours['traced_peak']:.2f}x   "
        f"RSS growth {base['rss_growth'] / max(1.0, ours['rss_growth']):.2f}x   "
        f"wall time {base['wall'] / ours['wall']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
