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
handshakes and peers in other threads or processes; a peer slower than
that may be overtaken by a virtual timeout, so raise ``io_grace`` for one.
While a job submitted with ``run_in_executor`` is still running, time does
not move at all: a timeout around such a job fires only once the job is
done. When no timer can move time (none is scheduled, or only timers at
infinity are) and no socket or thread wakes a task within ``deadlock_after``
real seconds, the loop raises :class:`VirtualTimeDeadlock` instead of
hanging.

Controlled interleavings: a loop built with a ``chooser`` holds back every
ready callback and runs them one per iteration, asking the chooser which of
the held ones goes next (:mod:`proofs.harness.scheduler` builds choosers and
explores schedules with them). Without a chooser the loop runs its ready
queue first in, first out, exactly as the standard loop does. With one, a
timer that falls due does not run its callback at once: the callback joins
the held ones, so two timers due at the same instant (a waiter's timeout and
the release it waits for, say) run in the order the chooser picks, and so do
the tasks they wake. A timer cancelled before its callback runs still never
runs it. I/O callbacks run as soon as they are ready; what they wake is a
ready callback like any other. ``watchers`` are called between callbacks,
where an invariant of the code under test can be checked at every moment
that code can be observed.

What this does not promise: determinism of real network traffic. Traces are
reproducible for code whose only inputs are the loop's clock and in-memory
events; with sockets involved, callbacks may be ordered by the kernel.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
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

        if timeout is not None and loop.only_endless_timers():
            # Only timers at infinity (``asyncio.sleep(math.inf)``) are left:
            # jumping towards them would never end. Nothing can wake a task
            # but I/O or another thread, as if no timer were scheduled.
            timeout = None

        sockets = len(self._inner.get_map()) - self.baseline
        if sockets > 0 and loop.io_grace > 0:
            wait = loop.io_grace if timeout is None else min(timeout, loop.io_grace)
            events = self._inner.select(wait)
            if events:
                return events

        if timeout is None:
            events = self._inner.select(loop.deadlock_after)
            if not events:
                opened = f", {sockets} socket(s) open but silent" if sockets else ""
                raise VirtualTimeDeadlock(
                    "every task is waiting and no timer, socket or thread woke "
                    f"one within {loop.deadlock_after:g} real seconds (virtual "
                    f"time {loop.time():g} s{opened})"
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
    the loop runs through the attribute of the same name. ``deadlock_after``
    is how long, in real seconds, the loop waits for a socket or another
    thread when no timer can move time, before it raises
    :class:`VirtualTimeDeadlock`.
    """

    def __init__(
        self,
        start: float = 0.0,
        io_grace: float = 0.002,
        chooser: Chooser | None = None,
        deadlock_after: float = DEADLOCK_REAL_SECONDS,
    ) -> None:
        selector = _VirtualSelector(lambda: self)
        self._now = float(start)
        self.io_grace = io_grace
        self.deadlock_after = deadlock_after
        self.executor_jobs = 0
        self.jumps = 0
        self.chooser = chooser
        #: Ready callbacks held back for the chooser, in the order they arrived.
        self._held: list[asyncio.Handle] = []
        #: Called with no arguments before each turn of the loop.
        self.watchers: list[Callable[[], object]] = []
        super().__init__(selector)
        selector.baseline = len(selector.get_map())

    def time(self) -> float:
        return self._now

    def only_endless_timers(self) -> bool:
        """Whether every timer still scheduled is due at infinity."""
        timers: list[asyncio.TimerHandle]
        timers = self._scheduled  # type: ignore[attr-defined]
        live = [t for t in timers if not t.cancelled()]
        return bool(live) and all(math.isinf(t.when()) for t in live)

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

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        if self.chooser is None:
            return super().call_at(when, callback, *args, context=context)

        def due() -> None:
            self.call_soon(deferred, context=context)

        def deferred() -> None:
            if not timer.cancelled():
                callback(*args)

        timer = super().call_at(when, due, context=context)
        return timer

    def _run_once(self) -> None:
        for watch in self.watchers:
            watch()
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
    deadlock_after: float = DEADLOCK_REAL_SECONDS,
) -> T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`.

    With a ``chooser``, every choice among ready callbacks made while ``main``
    runs is the chooser's; the cleanup after ``main`` returns runs first in,
    first out.
    """
    with asyncio.Runner(
        loop_factory=lambda: VirtualTimeLoop(
            start=start,
            io_grace=io_grace,
            chooser=chooser,
            deadlock_after=deadlock_after,
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
