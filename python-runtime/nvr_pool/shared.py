"""Frame pixels passed through memory the client shares with the pool (docs/protocol.md 3.4).

The client writes each frame into a file (on Linux, an unlinked file in /dev/shm) whose
descriptor the pool inherits, and sends only where it lies. The pool maps the file once and
reads the pixels in place: one copy (the client's write) instead of two through the socket, and
one small message instead of a megabyte pushed through the socket's buffer in pieces, each piece
a wake-up on both sides.
"""

from __future__ import annotations

import mmap
import os
import stat

from .protocol import ProtocolError


class SharedFrames:
    """The pool's read-only view of the shared file; remapped when the client has grown it."""

    def __init__(self, fd: int) -> None:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"shared memory fd {fd} is not a regular file")
        self.fd = fd
        #: The whole file, mapped: frames are slices of this view (the map lives as long as they do).
        self.view: memoryview | None = None

    def pixels(self, offset: int, size: int, where: str = "") -> memoryview:
        """The `size` bytes at `offset`, in place (valid for as long as the view is held)."""
        end = offset + size
        if self.view is None or end > len(self.view):
            length = os.fstat(self.fd).st_size
            if end > length:
                raise ProtocolError(
                    "bad_payload", f"{where}pixels at {offset}..{end} lie outside the {length}-byte shared memory"
                )
            # An older map stays alive for as long as slices of it are in use, then unmaps itself.
            self.view = memoryview(mmap.mmap(self.fd, length, access=mmap.ACCESS_READ))
        return self.view[offset:end]
