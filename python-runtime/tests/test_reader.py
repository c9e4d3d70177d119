"""SocketReader driven the way asyncio's socket transport drives a BufferedProtocol."""

from __future__ import annotations

import asyncio

import pytest

from nvr_pool.reader import _READ_AHEAD, SocketReader


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def attach() -> tuple[SocketReader, FakeTransport]:
    reader, transport = SocketReader(), FakeTransport()
    reader.connection_made(transport)
    return reader, transport


def receive(reader: SocketReader, data: bytes) -> None:
    """What the transport does on a readable socket: recv_into(get_buffer()), buffer_updated(n)."""
    while data:
        buffer = reader.get_buffer(-1)
        assert len(buffer) > 0
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        reader.buffer_updated(n)
        data = data[n:]


def test_bytes_before_a_read_wait_in_read_ahead_and_pause_it_when_full() -> None:
    async def main() -> None:
        reader, transport = attach()
        data = bytes(i % 251 for i in range(_READ_AHEAD))
        receive(reader, data)
        assert not transport.reading  # full: the socket holds the rest back
        assert await reader.readexactly(10) == data[:10]
        assert transport.reading
        receive(reader, b"0123456789")  # lands after the unread bytes, which moved to the front
        assert reader.head == 0
        assert await reader.readexactly(_READ_AHEAD) == data[10:] + b"0123456789"

    asyncio.run(main())


def test_a_large_read_takes_read_ahead_then_receives_into_its_own_buffer() -> None:
    async def main() -> None:
        reader, _ = attach()
        frame = bytes(range(256)) * 2000  # 512 KB, eight times the read-ahead
        receive(reader, frame[:100])
        task = asyncio.ensure_future(reader.readexactly(len(frame)))
        await asyncio.sleep(0)
        assert reader.target is not None
        buffer = reader.get_buffer(-1)
        assert len(buffer) == len(frame) - 100  # the socket writes straight into the frame
        receive(reader, frame[100:])
        assert await task == frame
        assert reader.target is None

    asyncio.run(main())


def test_read_returns_what_is_there_and_empty_at_end_of_input() -> None:
    async def main() -> None:
        reader, _ = attach()
        task = asyncio.ensure_future(reader.read(100))
        await asyncio.sleep(0)
        receive(reader, b"abc")
        assert await task == b"abc"
        reader.eof_received()
        assert await reader.read(100) == b""

    asyncio.run(main())


def test_input_ending_inside_a_read_raises_with_the_partial_bytes() -> None:
    async def main() -> None:
        reader, _ = attach()
        receive(reader, b"xy")
        task = asyncio.ensure_future(reader.readexactly(5))
        await asyncio.sleep(0)
        receive(reader, b"z")
        reader.connection_lost(None)
        with pytest.raises(asyncio.IncompleteReadError) as err:
            await task
        assert err.value.partial == b"xyz" and err.value.expected == 5

    asyncio.run(main())


def test_a_loop_that_asks_again_after_a_read_completes_or_after_pausing_gets_room() -> None:
    async def main() -> None:
        reader, transport = attach()
        task = asyncio.ensure_future(reader.readexactly(4))
        await asyncio.sleep(0)
        receive(reader, b"abcd")  # completes the read, whose task has not resumed yet
        receive(reader, b"efgh")  # asked again at once: goes to read-ahead, not past the target
        assert await task == b"abcd"
        receive(reader, bytes(_READ_AHEAD))  # fills read-ahead: paused, and a further ask still gets room
        assert not transport.reading
        receive(reader, b"ij")
        assert await reader.readexactly(4) == b"efgh"
        assert await reader.readexactly(_READ_AHEAD) == bytes(_READ_AHEAD)
        assert await reader.readexactly(2) == b"ij"

    asyncio.run(main())
