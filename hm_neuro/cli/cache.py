"""``hm-neuro cache``: the compiled builds kept per circuit shape."""

from __future__ import annotations


def run(args):
    from ..engines.brian2.cache import cache_entries, check_cache, clear_cache

    root = check_cache(write=args.action == "clear")
    if args.action == "clear":
        removed, skipped = clear_cache()
        print(f"removed {removed} cached build(s) from {root / 'builds'}")
        for d in skipped:
            print(f"kept {d}: a running hm-neuro process is using it (clear again when it is done)")
        return 0
    entries, headers = cache_entries(), cache_entries("headers")
    print(f"build cache: {root / 'builds'} (HM_NEURO_CACHE_DIR overrides)")
    print(f"{len(entries)} build(s), {sum(b for _, b in entries) / 1e6:.1f} MB")
    for d, b in entries:
        print(f"  {d.name}  {b / 1e6:.1f} MB")
    if headers:
        print(f"precompiled C++ headers: {root / 'headers'}, {sum(b for _, b in headers) / 1e6:.1f} MB")
    return 0


def add_options(c):
    c.add_argument("action", choices=["info", "clear"], help="info: list the builds; clear: delete them")


#: the command: (what it runs, its options, its help)
COMMAND = (
    run,
    add_options,
    dict(
        help="show or clear the cache of compiled Brian2 builds",
        description="Compiled cpp_standalone builds are kept per circuit shape in the user's cache "
        "folder (HM_NEURO_CACHE_DIR overrides it), so a second run compiles nothing.",
    ),
)
