"""Bad input to ``hm-neuro check``: its devices and the cache (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

CHECK = [
    (
        "check-with-cache-unwritable",
        None,
        ["check", "--quick"],
        r"HM_NEURO_CACHE_DIR: cannot be written here",
        {"HM_NEURO_CACHE_DIR": "/dev/null/cache"},
    ),
    ("devices-commas", None, ["check", "--devices", ", ,"], r"--devices: names no device"),
]
