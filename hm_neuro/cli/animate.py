"""``hm-neuro animate``: a weight history as a GIF."""

from __future__ import annotations

from pathlib import Path

from ..errors import bad
from ..files.model_io import load_history
from ..files.outputs import check_outputs, input_paths


def run(args):
    from ..plotting import weight_animation

    for key in ("frames", "fps"):
        if getattr(args, key) < 1:
            raise bad(f"--{key}", "must be at least 1", getattr(args, key))
    if args.frames > 10_000 or args.fps > 100:
        raise bad(
            "--frames" if args.frames > 10_000 else "--fps",
            "must be at most 10000 frames and 100 fps",
            max(args.frames, args.fps),
        )
    seen, snaps, circuit = load_history(args.history)
    h = Path(args.history)
    out = Path(args.out) if args.out else h.with_name(h.name.removesuffix(".npz") + ".gif")
    if out.suffix != ".gif":
        raise bad("--out", "animations end in .gif", str(out))
    check_outputs([out], input_paths(args.history))
    if len(seen) < 2:
        raise bad(f"history file {args.history}", "needs at least two snapshots to animate", len(seen))
    weight_animation(seen, snaps, circuit, out, frames=args.frames, fps=args.fps)
    print(f"{len(seen)} snapshots ({int(seen[0]):,}..{int(seen[-1]):,} examples) -> {out}")
    return 0


def add_options(a):
    a.add_argument("history", help="weight history file (.history.npz)")
    a.add_argument("--out", help="GIF to write; default HISTORY.gif beside the history")
    a.add_argument("--frames", type=int, default=60, help="at most this many frames (log-spaced); default 60")
    a.add_argument("--fps", type=int, default=8, help="frames per second; default 8")


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="the weight history of a training as an animated GIF",
        description="Reads OUT.history.npz (train --record-every N, or a reproduce run) and writes "
        "a GIF of the generative and recognition weights between the input and the first "
        "hidden layer, one frame per snapshot, labelled with the examples seen.",
    ),
)
