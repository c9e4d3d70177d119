"""Entry point: `python -m nvr_pool`. Protocol on stdin/stdout, logs on stderr (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from .reader import open_reader
from .server import Pool


class _FdWriter:
    """Blocking writes to the protocol fd; answers are small and the client always reads."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


async def _main(protocol_fd: int) -> None:
    pool = Pool(await open_reader(0), _FdWriter(protocol_fd))
    try:
        await pool.serve()
    finally:
        pool.close()


def main() -> int:
    logging.basicConfig(
        stream=sys.stderr, level=os.environ.get("NVR_POOL_LOG", "INFO"), format="nvr_pool %(levelname)s %(message)s"
    )
    # Keep the protocol on a private fd and point fd 1 at stderr, so a stray print (ours or a
    # native library's) can never corrupt the frame stream.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    asyncio.run(_main(protocol_fd))
    os.close(protocol_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
