"""Fault in the pages of a freshly allocated array ahead of the code that fills it.

The first write to each page of a new multi-gigabyte array traps into the kernel (about a third of
a frame decode's time at 1080p). Populating the pages from a helper thread while the decoder runs
moves that cost onto the otherwise idle core. ``madvise(MADV_POPULATE_WRITE)`` (Linux 5.14+) does it
in one call per range without changing the contents; elsewhere one byte per page is written.
"""

from __future__ import annotations

import ctypes
import mmap
import sys

import numpy as np

_MADV_POPULATE_WRITE = 23  # linux/mman.h; not exported by Python's mmap module
_PAGE = mmap.PAGESIZE


def _load_madvise() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # ctypes releases the GIL during the call
        fn = libc.madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_madvise = _load_madvise()


def populate(view: np.ndarray) -> None:
    """Make every page of the C-contiguous ``view`` resident and writable. ``view``'s contents are
    kept when ``madvise`` is available; the fallback writes zeros, so call it only on memory that is
    about to be overwritten."""
    global _madvise
    if view.size == 0 or not view.flags.c_contiguous or not view.flags.writeable:
        return
    start = view.ctypes.data
    end = start + view.nbytes
    first = -(-start // _PAGE) * _PAGE  # whole pages only: the partial edge pages fault normally
    last = end // _PAGE * _PAGE
    if _madvise is not None and last > first:
        if _madvise(first, last - first, _MADV_POPULATE_WRITE) == 0:  # type: ignore[operator]
            return
        _madvise = None  # an older kernel (EINVAL): use the fallback from now on
    flat = view.reshape(-1).view(np.uint8)
    flat[::_PAGE] = 0
