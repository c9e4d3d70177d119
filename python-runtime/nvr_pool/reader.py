"""Reading the protocol stream straight into each frame's own buffer.

Node starts the pool with a socket (a socketpair) on stdin. asyncio's StreamReader would copy a
frame's bytes three times (recv into a new bytes object, append to its buffer, slice out the
frame, then shift what is left); `SocketReader` hands the socket each frame's final buffer
instead, so a 416x416 RGB frame costs the kernel's one copy. Stdin that is not a socket (a pipe,
as in the Python tests) is read through asyncio's StreamReader, with the same two methods.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from typing import Protocol

import numpy as np

_READ_AHEAD = 64 * 1024


class FrameReader(Protocol):
    async def readexactly(self, n: int) -> bytes | bytearray | memoryview: ...

    async def read(self, n: int) -> bytes | bytearray: ...


class SocketReader(asyncio.BufferedProtocol):
    """A BufferedProtocol that receives into the buffer of the read in progress, or read-ahead.

    Bytes that arrive while nobody reads (the next frame's header, usually) go to a small
    read-ahead buffer; reading pauses when it is full, so a client that writes faster than the
    pool parses is held back by the socket, not by memory here.
    """

    def __init__(self) -> None:
        self.ahead = bytearray(_READ_AHEAD)
        self.head = 0  # unread read-ahead bytes are ahead[head:tail]
        self.tail = 0
        self.target: memoryview | None = None  # the buffer a readexactly waits to fill
        self.filled = 0
        self.waiter: asyncio.Future[None] | None = None
        self.transport: asyncio.ReadTransport | None = None
        self.paused = False
        self.eof = False

    # ------------------------------------------------------------ protocol side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - a socket transport reads

    def _into_target(self) -> bool:
        """Whether received bytes go to the waiting read's buffer (else to read-ahead).

        The loop calls get_buffer and buffer_updated back to back, with nothing in between that
        changes `target` or `filled`, so both ask this and get the same answer.
        """
        return self.target is not None and self.filled < len(self.target)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._into_target():
            assert self.target is not None
            return self.target[self.filled :]
        if self.head == self.tail:
            self.head = self.tail = 0
        elif self.tail == len(self.ahead):  # compact: keep the unread bytes at the front
            unread = self.tail - self.head
            self.ahead[:unread] = self.ahead[self.head : self.tail]
            self.head, self.tail = 0, unread
        if self.tail == len(self.ahead):
            # Full, and asked again before pause_reading took effect (an event loop may read once
            # more in the same callback): grow rather than hand out an empty buffer.
            self.ahead = self.ahead + bytearray(_READ_AHEAD)
        return memoryview(self.ahead)[self.tail :]

    def buffer_updated(self, nbytes: int) -> None:
        if self._into_target():
            assert self.target is not None
            self.filled += nbytes
            if self.filled == len(self.target):
                self._wake()
            return
        self.tail += nbytes
        if self.head == 0 and self.tail == len(self.ahead):
            self._pause()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    async def _wait(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    # ------------------------------------------------------------ reader side

    def _take(self, view: memoryview) -> int:
        """Moves read-ahead bytes into `view`; how many."""
        count = min(len(view), self.tail - self.head)
        view[:count] = self.ahead[self.head : self.head + count]
        self.head += count
        if count:
            self._resume()
        return count

    async def readexactly(self, n: int) -> memoryview:
        # np.empty: a frame-sized bytearray would first be zeroed, only to be overwritten.
        view = memoryview(np.empty(n, dtype=np.uint8))
        self.filled = self._take(view)
        if self.filled < n:
            self.target = view
            self._resume()
            try:
                while self.filled < n and not self.eof:
                    await self._wait()
            finally:
                self.target = None
            if self.filled < n:
                raise asyncio.IncompleteReadError(bytes(view[: self.filled]), n)
        return view

    async def read(self, n: int) -> bytearray:
        """Up to n bytes, waiting for at least one unless the input ended (then empty)."""
        while self.head == self.tail and not self.eof:
            self._resume()
            await self._wait()
        out = bytearray(min(n, self.tail - self.head))
        self._take(memoryview(out))
        return out


async def open_reader(fd: int) -> FrameReader:
    """The protocol reader for `fd`: SocketReader on a socket, asyncio's StreamReader otherwise."""
    loop = asyncio.get_running_loop()
    if stat.S_ISSOCK(os.fstat(fd).st_mode):
        reader = SocketReader()
        await loop.connect_accepted_socket(lambda: reader, socket.socket(fileno=fd))
        return reader
    stream = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(fd, "rb", buffering=0))
    return stream
