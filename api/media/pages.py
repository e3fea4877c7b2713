"""Huge pages for a fresh output array, where the kernel has them ready.

Filling a freshly allocated multi-gigabyte array costs the kernel one page fault per 4 KiB page on
first touch: at 1080p about as much CPU as decoding the video. A 2 MiB transparent huge page
replaces 512 of those faults with one, and when the kernel has free huge pages at hand that is
five to ten times cheaper. When it has to assemble or obtain them (fragmented memory, or a virtual
machine whose host has taken the memory back) a huge page can cost several times more than its
512 small pages. Which case holds varies across the address range and over time, so it is measured
as the pages are faulted in:

- each slot (one frame of the output) first faults in one huge page, timed in thread CPU time;
- cheap: the rest of the slot goes huge page by huge page while they stay cheap;
- dear: the rest of the slot is left to small pages (the conversion's own writes fault them in),
  and the next probes come after 1, 2, 4 ... 16 slots.

Only with the kernel's transparent huge pages in ``madvise`` mode (the common default): with
``always`` the kernel already does this on every fault, with ``never`` there is nothing to ask for.
``madvise(MADV_POPULATE_WRITE)`` needs Linux 5.14; elsewhere nothing changes. Page policy never
changes the array's contents, so any failure just turns the pager off.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14  # linux/mman.h; not exported by Python's mmap module
_MADV_NOHUGEPAGE = 15
_MADV_POPULATE_WRITE = 23
_MIN_OUTPUT = 64 << 20  # below this the faults cost too little to be worth a decision
# Thread CPU seconds above which a huge page is dearer than its 512 small pages' faults (about
# 0.6 ms on a 2-core VM, less on bare metal): a cheap one takes 0.05-0.2 ms.
_DEAR = 0.5e-3
_MAX_BACKOFF = 16
_THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _load_madvise() -> Any:
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


def thp_mode() -> str:
    """The kernel's transparent huge page mode (``always``, ``madvise``, ``never``), or ``""``."""
    try:
        text = _THP_MODE.read_text()
    except OSError:
        return ""
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else ""


_madvise = _load_madvise()


class Pager:
    """Faults in the slots of one C-contiguous array just before they are written (``prepare``),
    choosing huge or small pages as described above. Shared by the conversion threads."""

    def __init__(self, array: np.ndarray, slots: int) -> None:
        self._lock = threading.Lock()
        self._backoff = 1
        self._next_probe = 0
        self.enabled = (
            _madvise is not None
            and slots > 0
            and array.flags.c_contiguous
            and array.flags.writeable
            and array.nbytes >= _MIN_OUTPUT
            and thp_mode() == "madvise"
        )
        if not self.enabled:
            return
        self._array = array  # its memory must outlive the pager
        self._base = array.ctypes.data
        self._end = self._base + array.nbytes
        self._slot = array.nbytes // slots
        self._first = -(-self._base // HUGE_PAGE) * HUGE_PAGE  # whole huge pages inside the array
        self._last = self._end // HUGE_PAGE * HUGE_PAGE

    def prepare(self, slot: int) -> None:
        """Fault in the huge pages that start inside ``slot`` while they are cheap."""
        if not self.enabled:
            return
        start = self._base + slot * self._slot
        lo = max(self._first, -(-start // HUGE_PAGE) * HUGE_PAGE)
        hi = min(self._last, -(-(start + self._slot) // HUGE_PAGE) * HUGE_PAGE)
        if hi <= lo:
            return
        with self._lock:
            if slot < self._next_probe:
                return  # small pages here: the conversion's writes fault them in
        page = lo
        cheap = True
        try:
            self._advise(lo, hi - lo, _MADV_HUGEPAGE)
            while page < hi and cheap:
                cheap = self._populate_is_cheap(page)
                page += HUGE_PAGE
            if page < hi:  # huge pages got dear: small pages for the rest of this slot
                self._advise(page, hi - page, _MADV_NOHUGEPAGE)
        except OSError:
            self.enabled = False  # an older kernel or no THP support: leave paging to the kernel
            return
        with self._lock:
            if cheap:
                self._backoff = 1
                self._next_probe = 0
            else:
                self._next_probe = slot + self._backoff
                self._backoff = min(_MAX_BACKOFF, self._backoff * 2)

    def _populate_is_cheap(self, page: int) -> bool:
        began = time.thread_time()
        self._advise(page, HUGE_PAGE, _MADV_POPULATE_WRITE)
        return time.thread_time() - began < _DEAR

    @staticmethod
    def _advise(address: int, length: int, advice: int) -> None:
        if _madvise(address, length, advice) != 0:
            raise OSError(ctypes.get_errno(), "madvise")
