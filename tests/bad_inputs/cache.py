"""Bad input to ``hm-neuro cache``: the build cache's folder (id, setup writing
the inputs into the folder or None, arguments, stderr pattern[, environment])."""

from .writers import ENV_FILE_CACHE, text_file

CACHE = [
    (
        "cache-info-on-a-file",
        lambda d: text_file(d, "afile", "x"),
        ["cache", "info"],
        r"HM_NEURO_CACHE_DIR: is not a folder \(got 'afile'\)",
        ENV_FILE_CACHE,
    ),
    (
        "cache-clear-on-a-file",
        lambda d: text_file(d, "afile", "x"),
        ["cache", "clear"],
        r"HM_NEURO_CACHE_DIR: is not a folder \(got 'afile'\)",
        ENV_FILE_CACHE,
    ),
    (
        "cache-clear-unwritable",
        None,
        ["cache", "clear"],
        r"HM_NEURO_CACHE_DIR: cannot be written here",
        {"HM_NEURO_CACHE_DIR": "/dev/null/cache"},
    ),
]
