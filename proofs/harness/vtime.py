"""A virtual-time asyncio event loop.

Code under test reads time only through ``loop.time()`` and waits only through
``asyncio.sleep``, ``asyncio.wait_for``, ``loop.call_later`` and friends. On
:class:`VirtualTimeLoop` the clock is a number the loop owns: it starts at
``start`` and moves only when every task is blocked and the next thing that can
happen is a timer. The loop then jumps straight to that timer. A scenario that
waits out a 60-second recovery timeout therefore finishes in microseconds, and
two runs of one scenario go through the same callbacks at the same virtual
instants.

Why our own loop rather than ``looptime``: looptime is a pytest plugin that
patches whichever loop pytest-asyncio creates. The obligations here run outside
pytest (``mstheory verify``) as well as inside it, and the interleaving
explorer needs a loop class it can extend with its own choice of which ready
callback runs next. A subclass of the standard selector loop that replaces
only the clock and the selector's idle wait does both, in under a hundred
lines, with no dependence on a test runner.

Real I/O still works: the loop keeps a real selector, and polls it without
blocking before every jump. When sockets other than the loop's own wake-up
pipe are registered (an aiohttp server and client on 127.0.0.1, say), it first
waits up to ``io_grace`` real seconds for I/O before jumping, so a response
already on its way is not overtaken by a timeout. Loopback traffic between two
sockets of the same loop is usually readable at once; ``io_grace`` covers
handshakes and peers in other threads or processes. While a job submitted with
``run_in_executor`` is still running, time does not move at all.

Controlled interleavings: a loop built with a ``chooser`` holds back every
ready callback and runs them one per iteration, asking the chooser which of
the held ones goes next (:mod:`proofs.harness.scheduler` builds choosers and
explores schedules with them). Without a chooser the loop runs its ready
queue first in, first out, exactly as the standard loop does. Timers and I/O
callbacks still run as soon as they are due; what they wake (a task waiting on
a sleep or a socket) is a ready callback like any other, so its order is
chosen too.

What this does not promise: determinism of real network traffic. Traces are
reproducible for code whose only inputs are the loop's clock and in-memory
events; with sockets involved, callbacks may be ordered by the kernel.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import selectors
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar, TypeVarTuple, Unpack

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: Picks which of the held ready callbacks runs next: given at least two, in
#: the order they became ready, it returns the index of one of them.
Chooser: TypeAlias = Callable[[Sequence[asyncio.Handle]], int]

#: Longest real time the loop waits, with nothing scheduled, for another thread
#: to wake it before it declares that it would wait forever.
DEADLOCK_REAL_SECONDS = 10.0


class VirtualTimeDeadlock(RuntimeError):
    """Every task is blocked and nothing (timer, I/O, thread) can wake one."""


class _VirtualSelector(selectors.BaseSelector):
    """A real selector whose idle waits advance the loop's virtual clock."""

    def __init__(self, loop_ref: Callable[[], VirtualTimeLoop]) -> None:
        self._inner = selectors.DefaultSelector()
        self._loop_ref = loop_ref
        #: Registrations made by the loop itself (its self-pipe).
        self.baseline = 0

    def register(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._inner.select(0)
        if events or timeout == 0:
            return events
        loop = self._loop_ref()

        if loop.executor_jobs:
            # Another thread is working for us; its result will arrive through
            # the self-pipe. Do not let virtual time run ahead of it.
            return self._inner.select(0.01 if timeout is None else min(timeout, 0.01))

        if len(self._inner.get_map()) > self.baseline and loop.io_grace > 0:
            wait = loop.io_grace if timeout is None else min(timeout, loop.io_grace)
            events = self._inner.select(wait)
            if events:
                return events
            if timeout is None:
                # Sockets are open but no timer is due: wait for I/O for real.
                return self._inner.select(None)

        if timeout is None:
            events = self._inner.select(DEADLOCK_REAL_SECONDS)
            if not events:
                raise VirtualTimeDeadlock(
                    "every task is waiting and no timer, socket or thread can "
                    f"wake one (virtual time {loop.time():g} s)"
                )
            return events

        loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is virtual.

    ``start`` is the clock's first reading. ``io_grace`` is how long, in real
    seconds, the loop waits for socket I/O before jumping over idle time while
    sockets are open. ``chooser``, when given, decides the order of ready
    callbacks (see the module's notes); it can be replaced or removed while
    the loop runs through the attribute of the same name.
    """

    def __init__(
        self,
        start: float = 0.0,
        io_grace: float = 0.002,
        chooser: Chooser | None = None,
    ) -> None:
        selector = _VirtualSelector(lambda: self)
        self._now = float(start)
        self.io_grace = io_grace
        self.executor_jobs = 0
        self.jumps = 0
        self.chooser = chooser
        #: Ready callbacks held back for the chooser, in the order they arrived.
        self._held: list[asyncio.Handle] = []
        super().__init__(selector)
        selector.baseline = len(selector.get_map())

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never back)."""
        if seconds < 0:
            raise ValueError(f"virtual time cannot go back ({seconds} s)")
        self._now += seconds
        self.jumps += 1
        # asyncio treats a timer as due when it falls before now plus the
        # clock's resolution; far from zero a float cannot add 1 ns, and a
        # timer due exactly now would never fire.
        self._clock_resolution = max(1e-9, 2 * math.ulp(self._now))

    def _run_once(self) -> None:
        ready: Any = self._ready  # type: ignore[attr-defined]
        held = self._held
        choose = self.chooser
        if choose is None:
            if held:
                ready.extendleft(reversed(held))
                held.clear()
            super()._run_once()  # type: ignore[misc]
            return

        held.extend(ready)
        ready.clear()
        held[:] = [h for h in held if not h.cancelled()]
        if held:
            try:
                index = choose(held) if len(held) > 1 else 0
            except BaseException:
                # The chooser gave up (a Hypothesis draw past its budget, say):
                # let the loop finish first in, first out so that cleanup runs.
                self.chooser = None
                raise
            if not 0 <= index < len(held):
                self.chooser = None
                raise IndexError(
                    f"chooser picked callback {index} of {len(held)} ready ones"
                )
            ready.append(held.pop(index))
        super()._run_once()  # type: ignore[misc]

    def close(self) -> None:
        self._held.clear()
        super().close()

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[Unpack[Ts]], T],
        *args: *Ts,
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self.executor_jobs += 1

        def done(_: asyncio.Future[T] | concurrent.futures.Future[T]) -> None:
            self.executor_jobs -= 1

        future.add_done_callback(done)
        return future


def run(
    main: Coroutine[Any, Any, T],
    *,
    start: float = 0.0,
    io_grace: float = 0.002,
    chooser: Chooser | None = None,
) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`.

    With a ``chooser``, every choice among ready callbacks made while ``main``
    runs is the chooser's; the cleanup after ``main`` returns runs first in,
    first out.
    """
    with asyncio.Runner(
        loop_factory=lambda: VirtualTimeLoop(
            start=start, io_grace=io_grace, chooser=chooser
        )
    ) as runner:
        return runner.run(then_release_chooser(main))


async def then_release_chooser(main: Coroutine[Any, Any, T]) -> T:
    """Await ``main``, then let the loop run first in, first out."""
    try:
        return await main
    finally:
        loop = asyncio.get_running_loop()
        if isinstance(loop, VirtualTimeLoop):
            loop.chooser = None
