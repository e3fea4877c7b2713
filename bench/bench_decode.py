"""MP4 -> IMAGE benchmark: the pack's decoder against ComfyUI's approach and plain PyAV, in one run.

For each size (default 720p, 1080p, 4K) it makes an H.264 + AAC test clip, then decodes it in fresh
interpreters (imports done before the clock starts), alternating the methods so background load
hits all alike, and keeps each method's best time:

  pack          ``nodes.convert.decode_frames_and_audio`` (what LTX-2 Decode Video and the
                generation nodes run): frames straight into one float32 tensor, the audio
                decoded beside them
  pack-frames   the frames alone (``decode_frames_tensor``), to set against plain PyAV
  comfyui-copy  a copy of ComfyUI's ``VideoFromFile.get_components()`` approach: a float tensor per
                frame in a list, then ``torch.stack``, then the audio
  comfyui       ComfyUI's own ``VideoFromFile(path).get_components()`` (only with ``COMFYUI_DIR``, a
                ComfyUI checkout whose requirements are importable: safetensors, einops, tqdm, ...)
  pyav-rgb24    plain PyAV: threaded decode + ``frame.to_ndarray(format="rgb24")`` per frame, the
                frames dropped (the floor for any decoder that hands out RGB)
  pyav+fresh    the same loop while a second thread merely touches a fresh array of the output's
                size: the floor for any decoder that hands out a new float32 tensor (the kernel
                zeroes and maps every page of it on first touch)

Ratios: pack vs comfyui-copy (frames and audio both; target 7x or more), pack-frames vs pyav-rgb24
(target 0.8x or more), peak memory over the output tensor (growth of the peak resident set over the
interpreter's own after its imports; target 1.15x or less). "cpu s" is user + system time of the
whole process: unlike the wall time it hardly depends on what else the machine is running. Then the decode options at 1080p (``max_frames``,
``frame_stride``, ``max_side``) against plain PyAV doing the same selection, the audio decode against
ComfyUI's audio loop, and the largest difference from the plain rgb24 / 255 values.

    python bench/bench_decode.py [--sizes 720p,1080p,2160p] [--seconds 4] [--repeat 3] [--clip FILE]

``--clip`` decodes a file of your own (e.g. a downloaded result) instead of the generated clips.
The generated clip is textured and moving (about the bitrate of a generated 1080p result), not
flat colour, so the decoder has real work to do.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

MB = 1 << 20
SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080), "2160p": (3840, 2160)}
# 4K frames are 100 MB each as float32; a 1 s clip keeps ComfyUI's two copies within a small machine.
SECONDS_4K = 1.0


# --- the clip ---------------------------------------------------------------------------------------


def make_clip(path: Path, width: int, height: int, frames: int, fps: int = 25) -> None:
    """H.264 (crf 18) + stereo AAC: a fine texture panning under moving shapes, with light grain."""
    import av
    from ltx2_nodes.api.media import synth

    rng = np.random.default_rng(7)
    scale = 4
    shapes = synth.test_frames(frames, -(-width // scale), -(-height // scale), seed=7)
    texture = rng.integers(-18, 19, (height + 64, width + 64, 1), dtype=np.int16)
    audio = synth.speech_like_audio(frames / fps, 48000, 2, seed=7)
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream(
            "libx264", rate=Fraction(fps, 1), options={"crf": "18", "preset": "veryfast"}
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.thread_type = "AUTO"
        sound = container.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        for i in range(frames):
            big = shapes[i].repeat(scale, 0).repeat(scale, 1)[:height, :width].astype(np.int16)
            dx, dy = (2 * i) % 64, i % 64
            big += texture[dy : dy + height, dx : dx + width]
            big += rng.integers(-3, 4, (height, width, 1), dtype=np.int16)
            frame = av.VideoFrame.from_ndarray(np.clip(big, 0, 255).astype(np.uint8), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        for start in range(0, audio.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio[:, start : start + 1024]), format="fltp", layout="stereo"
            )
            chunk.sample_rate, chunk.pts = 48000, start
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)


# --- the methods (each runs in a fresh interpreter) ---------------------------------------------------


def run_pack(path: str, opts: dict) -> dict:
    from ltx2_nodes.nodes.convert import decode_frames_and_audio, decode_frames_tensor

    if not opts["audio"]:
        frames, _fps = decode_frames_tensor(
            path, max_frames=opts["max_frames"], stride=opts["stride"], max_side=opts["max_side"]
        )
        return {"frames": frames}
    frames, _fps, audio = decode_frames_and_audio(
        path, max_frames=opts["max_frames"], stride=opts["stride"], max_side=opts["max_side"]
    )
    return {"frames": frames, "audio": audio}


def run_pack_frames(path: str, opts: dict) -> dict:
    return run_pack(path, {**opts, "audio": False})


def run_comfyui_copy(path: str, opts: dict) -> dict:
    """ComfyUI 0.3.64's ``VideoFromFile.get_components()``, step for step (its VideoComponents /
    AudioInput wrappers left out; they only hold the values)."""
    import av
    import torch

    with av.open(path, mode="r") as container:
        frames = []
        for frame in container.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            img = torch.from_numpy(img) / 255.0
            frames.append(img)
        images = torch.stack(frames) if len(frames) > 0 else torch.zeros(0, 3, 0, 0)
        video_stream = next(s for s in container.streams if s.type == "video")
        _rate = Fraction(video_stream.average_rate) if video_stream.average_rate else Fraction(1)
        audio = None
        container.seek(0)
        for stream in container.streams:
            if stream.type != "audio":
                continue
            audio_frames = []
            for packet in container.demux(stream):
                for aframe in packet.decode():
                    audio_frames.append(aframe.to_ndarray())
            if audio_frames:
                waveform = torch.from_numpy(np.concatenate(audio_frames, axis=1)).unsqueeze(0)
                audio = {"waveform": waveform, "sample_rate": int(stream.sample_rate or 1)}
    return {"frames": images, "audio": audio}


def run_comfyui(path: str, opts: dict) -> dict:
    from comfy_api.input_impl import VideoFromFile

    components = VideoFromFile(path).get_components()
    return {"frames": components.images, "audio": components.audio}


def run_pyav_rgb24(path: str, opts: dict) -> dict:
    """Plain PyAV with the same frame selection and size as the pack; the frames are dropped."""
    import av
    from ltx2_nodes.api.media.decode import plan_decode

    kwargs: dict = {"format": "rgb24"}
    limit = 0
    if opts["max_side"] or opts["max_frames"]:  # the size or count to stop at; else one opening
        plan = plan_decode(
            path, max_frames=opts["max_frames"], stride=opts["stride"], max_side=opts["max_side"]
        )
        limit = plan.frame_count
        if opts["max_side"]:
            kwargs.update(width=plan.width, height=plan.height, interpolation="AREA")
    kept = 0
    checksum = 0.0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index % opts["stride"]:
                continue
            rgb = frame.to_ndarray(**kwargs)
            if kept == 0:
                checksum = float(rgb[::7, ::7].mean())
            kept += 1
            if kept == limit:
                break
    return {"kept": kept, "first_mean": checksum}


def touch_pages(array: np.ndarray) -> None:
    """One write per 4 KiB page: faults every page of a fresh C-contiguous array in."""
    array.view(np.uint8).reshape(-1)[::4096] = 0


def run_pyav_fresh(path: str, opts: dict) -> dict:
    import threading

    import torch
    from ltx2_nodes.api.media.decode import plan_decode

    plan = plan_decode(path, max_frames=opts["max_frames"], stride=opts["stride"], max_side=opts["max_side"])
    fresh = torch.empty(plan.shape, dtype=torch.float32)
    # What the kernel charges for a fresh array, without the conversion.
    toucher = threading.Thread(target=lambda: [touch_pages(f) for f in fresh.numpy()])
    toucher.start()
    result = run_pyav_rgb24(path, opts)
    toucher.join()
    return {**result, "frames": fresh}


def run_audio_pack(path: str, opts: dict) -> dict:
    from ltx2_nodes.nodes.convert import decode_audio_dict

    return {"audio": decode_audio_dict(path)}


def run_audio_comfyui_copy(path: str, opts: dict) -> dict:
    import av
    import torch

    with av.open(path, mode="r") as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray() for packet in container.demux(stream) for f in packet.decode()]
        return {"audio": {"waveform": torch.from_numpy(np.concatenate(chunks, axis=1)).unsqueeze(0)}}


METHODS = {
    "pack": run_pack,
    "pack-frames": run_pack_frames,
    "comfyui-copy": run_comfyui_copy,
    "comfyui": run_comfyui,
    "pyav-rgb24": run_pyav_rgb24,
    "pyav+fresh": run_pyav_fresh,
    "audio-pack": run_audio_pack,
    "audio-comfyui-copy": run_audio_comfyui_copy,
}


def current_rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def anon_huge_bytes() -> int:
    """Bytes of this process's memory in transparent huge pages (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak_rss() -> None:
    """Start the peak-RSS mark afresh (Linux 4.0+), so what the imports briefly used is not counted."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def leave_free_huge_pages(path: str, opts: dict) -> None:
    """Fault in and free an array a little larger than the output in huge pages (numpy asks for
    them), so the kernel has free huge pages at hand: the state of a machine whose memory is not
    fragmented or taken back by a VM host. Before the clock starts."""
    from ltx2_nodes.api.media.decode import plan_decode

    plan = plan_decode(path, max_frames=opts["max_frames"], stride=opts["stride"], max_side=opts["max_side"])
    scratch = np.empty(int(plan.nbytes * 1.1) // 4 + (4 << 20), dtype=np.float32)
    touch_pages(scratch)
    del scratch


def worker(method: str, path: str, opts: dict) -> dict:
    import av  # noqa: F401
    import torch  # noqa: F401
    from ltx2_nodes.api.media import decode  # noqa: F401
    from ltx2_nodes.nodes import convert  # noqa: F401

    if method == "comfyui":
        sys.path.insert(0, os.environ["COMFYUI_DIR"])
        import comfy_api.input_impl  # noqa: F401
    if opts.get("huge_pages_at_hand"):
        leave_free_huge_pages(path, opts)
    reset_peak_rss()
    rss_before = current_rss()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = METHODS[method](path, opts)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = peak_rss() - rss_before
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    row: dict = {"wall": wall, "peak": float(peak), "cpu": cpu, "sys": after.ru_stime - before.ru_stime}
    frames = result.get("frames")
    if frames is not None:
        row.update(output=float(frames.numel() * 4), shape=list(frames.shape))
        row["huge_share"] = anon_huge_bytes() / row["output"]
        row["first_mean"] = float(frames[0, ::7, ::7].mean()) * 255.0
        if opts.get("dump"):
            np.save(opts["dump"], frames[:: max(1, frames.shape[0] // 4)].numpy())
    if "kept" in result:
        row.update(kept=result["kept"], first_mean=result["first_mean"])
        if method == "pyav-rgb24":
            row.pop("output", None)
    audio = result.get("audio")
    if audio is not None:
        row["audio_shape"] = list(audio["waveform"].shape)
    return row


def run(method: str, clip: Path, **opts) -> dict:
    full = {"max_frames": 0, "stride": 1, "max_side": 0, "audio": True, **opts}
    cmd = [sys.executable, __file__, "--worker", method, "--clip", str(clip), "--opts", json.dumps(full)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(method: str, clip: Path, repeat: int, **opts) -> dict:
    rows = [run(method, clip, **opts) for _ in range(repeat)]
    top = min(rows, key=lambda r: r["wall"])
    return {**top, "peak": min(r["peak"] for r in rows)}


def alternate(methods: list[str], clip: Path, repeat: int, **opts) -> dict[str, dict]:
    """Each method ``repeat`` times, interleaved; the best time and the smallest peak of each."""
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    for _ in range(max(1, repeat)):
        for method in methods:
            rows[method].append(run(method, clip, **opts))
    return {
        m: {
            **min(r, key=lambda x: x["wall"]),
            "peak": min(x["peak"] for x in r),
            "cpu": min(x["cpu"] for x in r),
        }
        for m, r in rows.items()
    }


# --- report ---------------------------------------------------------------------------------------------


def fps(row: dict, frames: int) -> float:
    return frames / row["wall"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="720p,1080p,2160p", help=f"comma list of {', '.join(SIZES)}")
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length below 4K (25 fps)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method (best kept)")
    parser.add_argument("--clip", help="decode this file instead of generated clips")
    parser.add_argument("--worker", choices=sorted(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--opts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.clip, json.loads(args.opts))))
        return 0

    comfy = bool(os.environ.get("COMFYUI_DIR"))
    frame_methods = [
        "pack",
        "comfyui-copy",
        *(["comfyui"] if comfy else []),
        "pack-frames",
        "pyav-rgb24",
        "pyav+fresh",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        clips: list[tuple[str, Path]] = []
        if args.clip:
            clips.append((Path(args.clip).name, Path(args.clip)))
        else:
            for name in args.sizes.split(","):
                width, height = SIZES[name.strip()]
                seconds = SECONDS_4K if height >= 2160 else args.seconds
                path = Path(tmp) / f"{name.strip()}.mp4"
                make_clip(path, width, height, round(seconds * 25))
                clips.append((name.strip(), path))
        run("pyav-rgb24", clips[0][1])  # warm the file cache and the allocator of the VM

        print("MP4 -> IMAGE (float32 [N,H,W,3]), best of", args.repeat, "fresh interpreters each\n")
        header = (
            f"{'clip':<8}{'frames':>7}{'Mbit/s':>8}{'method':>14}{'wall s':>8}{'fps':>7}{'cpu s':>7}"
            f"{'peak/out':>9}{'ratio':>8}  against"
        )
        print(header)
        print("-" * len(header))
        for name, clip in clips:
            from ltx2_nodes.api.media.decode import plan_decode

            plan = plan_decode(clip)
            n = plan.frame_count
            mbit = clip.stat().st_size * 8 / MB / max(plan.duration, 1e-6)
            rows = alternate(frame_methods, clip, args.repeat)
            against = {"pack": "comfyui-copy", "pack-frames": "pyav-rgb24"}
            for method in frame_methods:
                row = rows[method]
                peak = f"{row['peak'] / row['output']:.2f}" if "output" in row else "-"
                ratio, versus = "", ""
                if method in against:
                    versus = against[method]
                    ratio = f"{rows[versus]['wall'] / row['wall']:.2f}x"
                print(
                    f"{name:<8}{n:>7}{mbit:>8.1f}{method:>14}{row['wall']:>8.2f}{fps(row, n):>7.1f}"
                    f"{row['cpu']:>7.2f}{peak:>9}{ratio:>8}  {versus}"
                )
            pack, frames_only = rows["pack"], rows["pack-frames"]
            print(
                f"{'':<8}pack is {rows['comfyui-copy']['wall'] / pack['wall']:.1f}x comfyui-copy"
                + (f", {rows['comfyui']['wall'] / pack['wall']:.1f}x comfyui" if comfy else "")
                + f"; pack-frames {rows['pyav-rgb24']['wall'] / frames_only['wall']:.2f}x pyav-rgb24"
                f" ({rows['pyav-rgb24']['cpu'] / frames_only['cpu']:.2f}x in cpu time),"
                f" {rows['pyav+fresh']['wall'] / frames_only['wall']:.2f}x the pyav+fresh floor;"
                f" peak {frames_only['peak'] / frames_only['output']:.2f}x its output"
                f" (comfyui-copy {rows['comfyui-copy']['peak'] / rows['comfyui-copy']['output']:.2f}x)"
            )
            huge = best("pack-frames", clip, args.repeat, huge_pages_at_hand=True)
            print(
                f"{'':<8}with free huge pages at hand: pack-frames {huge['wall']:.2f} s, "
                f"{rows['pyav-rgb24']['wall'] / huge['wall']:.2f}x pyav-rgb24, "
                f"{rows['comfyui-copy']['wall'] / huge['wall']:.1f}x comfyui-copy; "
                f"{huge.get('huge_share', 0.0):.0%} of its output in huge pages"
            )
        print()

        name, clip = next(((n, c) for n, c in clips if n == "1080p"), clips[0])
        from ltx2_nodes.api.media.decode import plan_decode

        print(f"Decode options on the {name} clip (pack vs plain PyAV doing the same selection)\n")
        header = f"{'options':<26}{'kept':>6}{'pack s':>8}{'pyav s':>8}{'ratio':>7}{'peak/out':>9}{'share of full':>15}"
        print(header)
        print("-" * len(header))
        full = None
        for label, opts in (
            ("all frames", {}),
            ("max_frames=25", {"max_frames": 25}),
            ("frame_stride=4", {"stride": 4}),
            ("max_side=768", {"max_side": 768}),
            ("stride=2, max_side=512", {"stride": 2, "max_side": 512}),
        ):
            plan = plan_decode(
                clip,
                max_frames=opts.get("max_frames", 0),
                stride=opts.get("stride", 1),
                max_side=opts.get("max_side", 0),
            )
            rows = alternate(["pack-frames", "pyav-rgb24"], clip, args.repeat, **opts)
            pack, plain = rows["pack-frames"], rows["pyav-rgb24"]
            full = full or pack["wall"]
            print(
                f"{label:<26}{plan.frame_count:>6}{pack['wall']:>8.3f}{plain['wall']:>8.3f}"
                f"{plain['wall'] / pack['wall']:>7.2f}{pack['peak'] / pack['output']:>9.2f}"
                f"{pack['wall'] / full:>15.2f}"
            )
        print()

        rows = alternate(["audio-pack", "audio-comfyui-copy"], clip, args.repeat)
        ours, theirs = rows["audio-pack"], rows["audio-comfyui-copy"]
        print(
            f"Audio {ours.get('audio_shape')}: pack {ours['wall'] * 1000:.1f} ms, comfyui-copy "
            f"{theirs['wall'] * 1000:.1f} ms ({theirs['wall'] / ours['wall']:.2f}x)"
        )

        # Values: the pack's frames against plain rgb24 / 255 (what the pack produced before).
        dump_ours, dump_ref = Path(tmp) / "ours.npy", Path(tmp) / "ref.npy"
        run("pack-frames", clip, dump=str(dump_ours))
        run("comfyui-copy", clip, dump=str(dump_ref))
        diff = float(np.abs(np.load(dump_ours) - np.load(dump_ref)).max())
        print(f"Largest difference from rgb24 / 255 on {name}: {diff * 255:.3f} / 255 (limit 1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
