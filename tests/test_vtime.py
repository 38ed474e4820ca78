"""The virtual-time loop: long scenarios finish at once, and repeat exactly."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from proofs.harness.vtime import VirtualTimeDeadlock, VirtualTimeLoop, run


async def _scenario() -> list[tuple[float, str]]:
    """A minute of a client with backoff and a timeout, racing a heartbeat."""
    loop = asyncio.get_running_loop()
    trace: list[tuple[float, str]] = []

    async def heartbeat() -> None:
        for i in range(12):
            await asyncio.sleep(5)
            trace.append((loop.time(), f"beat {i}"))

    async def client() -> None:
        delay = 1.0
        for attempt in range(5):
            try:
                await asyncio.wait_for(asyncio.sleep(10), timeout=3)
            except TimeoutError:
                trace.append((loop.time(), f"timeout {attempt}"))
            await asyncio.sleep(delay)
            delay *= 2

    await asyncio.gather(heartbeat(), client())
    trace.append((loop.time(), "done"))
    return trace


def test_sixty_seconds_take_a_fraction_of_a_second() -> None:
    started = time.perf_counter()
    trace = run(_scenario())
    elapsed = time.perf_counter() - started
    assert trace[-1] == (60.0, "done")
    # Generous: the point is that nothing waited for real.
    assert elapsed < 1.0, f"virtual minute took {elapsed:.3f} s of real time"


def test_two_runs_give_identical_traces() -> None:
    assert run(_scenario()) == run(_scenario())


def test_timers_fire_at_their_virtual_instants() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        seen: list[float] = []
        for d in (0.5, 2.0, 60.0):
            loop.call_later(d, lambda: seen.append(loop.time()))
        await asyncio.sleep(61)
        return seen

    assert run(main(), start=100.0) == [100.5, 102.0, 160.0]


def test_executor_jobs_hold_the_clock() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(None, time.sleep, 0.05), timeout=1)
        return loop.time()

    assert run(main()) == 0.0


def test_clock_never_goes_back() -> None:
    loop = VirtualTimeLoop()
    try:
        with pytest.raises(ValueError, match="cannot go back"):
            loop.advance(-1)
    finally:
        loop.close()


def test_deadlock_is_reported() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(VirtualTimeDeadlock, match="no timer"):
        run(main(), deadlock_after=0.01)


def test_sleeping_forever_is_a_deadlock_not_a_spin() -> None:
    async def main() -> None:
        await asyncio.sleep(float("inf"))

    with pytest.raises(VirtualTimeDeadlock, match="no timer"):
        run(main(), deadlock_after=0.01)


def test_deadlock_with_a_silent_socket_open_is_reported() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        quiet, other = socket.socketpair()
        try:
            loop.add_reader(quiet.fileno(), lambda: None)
            await loop.create_future()
        finally:
            loop.remove_reader(quiet.fileno())
            quiet.close()
            other.close()

    with pytest.raises(VirtualTimeDeadlock, match="1 socket"):
        run(main(), deadlock_after=0.05)


def test_real_sockets_work_on_the_virtual_loop() -> None:
    async def main() -> bytes:
        async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(await r.readline())
            await w.drain()
            w.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        line = await asyncio.wait_for(reader.readline(), timeout=5)
        writer.close()
        server.close()
        await server.wait_closed()
        return line

    assert run(main()) == b"ping\n"


def test_zero_delay_timers_fire_far_from_time_zero() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(200 * 86400)
        done: asyncio.Future[int] = loop.create_future()
        loop.call_later(0, done.set_result, 1)
        await done
        return loop.time()

    assert run(main(), start=2e7) == 2e7 + 200 * 86400
