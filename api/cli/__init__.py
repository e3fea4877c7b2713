"""The ``ltx2`` command line: generate, demo, emulator, jobs, config, providers.

Each command lives in its own module and is imported only when it runs, so ``ltx2 --help`` and
``ltx2 providers`` start fast.
"""
