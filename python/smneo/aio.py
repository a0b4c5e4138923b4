"""smneo.aio: the asyncio client (docs/python.md, "asyncio").

    import smneo.aio
    async with smneo.aio.Client(region_name="us-west-2") as client:
        job = await client.describe_compilation_job(CompilationJobName="resnet")
        async for summary in client.iter_compilation_jobs():
            ...
        async for event in client.get_compilation_job_logs("resnet", follow=True):
            ...
        await client.wait_for_compilation_job("resnet")

smneo.aio.Client takes smneo.Client's arguments and wraps one: validation,
signing, retries, pagination, the waiter and the parsing are the core's step
machines, the same as the blocking client's; this module only performs their
steps on the running event loop. A SEND step goes out on libcurl's multi
interface, its sockets watched by the loop (no thread per request); a SLEEP
step is asyncio.sleep. Cancelling the task (asyncio.wait_for, asyncio.timeout,
task.cancel()) aborts the request in flight at once and releases the call.

Credential requests (container, IMDS: short timeouts of their own) and
in-process transports (smneo.local.mock, moto's mock_aws) are sent in the
loop's default executor instead. compile() drives the core's compile
machine, compile_many() the core's compile_many machine: their API calls
go out as the other calls' do, their CPU-bound and blocking work steps run
in the loop's default executor; cancelling the task stops their jobs.
"""
import asyncio
import time

from . import _display, _glue, _smneo

__all__ = ["Client"]

_SEND, _SLEEP, _EVENT, _DONE, _WORK = 1, 2, 3, 4, 5
# CPU time smneo's steps may take in one loop iteration before a call yields
# to the next one (other callbacks, timers): with hundreds of calls in flight,
# their steps (signing, parsing) would otherwise run back to back.
_SLICE = 0.001
# Requests handed to libcurl between two of its timer actions: libcurl starts
# them all in the next one (connect, send), so a burst of hundreds would hold
# the loop for tens of ms; beyond this many, a call waits for that action.
_BATCH = 8
_IN, _OUT, _REMOVE = 1, 2, 4


class _Driver:
    """Performs the SEND steps of one client's calls on one event loop."""

    def __init__(self, client, loop):
        self.loop = loop
        self._fds = {}      # fd -> the events watched (_IN | _OUT)
        self._pending = {}  # Steps -> the future its answer resolves
        self._timer = None
        self._timer_when = 0.0
        self._slice_start = None  # when this loop iteration's steps began
        self._added = 0           # requests added since libcurl's last timer action
        self._next_action = None  # a future resolved after that action
        self._multi = client._curl_multi(self._on_socket)  # None: not libcurl (in-process transports)

    @property
    def in_flight(self):
        return self._multi.count if self._multi is not None else 0

    def _on_socket(self, fd, what):
        old = self._fds.pop(fd, 0)
        new = 0 if what & _REMOVE else what & (_IN | _OUT)
        if old & _IN and not new & _IN:
            self.loop.remove_reader(fd)
        if old & _OUT and not new & _OUT:
            self.loop.remove_writer(fd)
        if new & _IN and not old & _IN:
            self.loop.add_reader(fd, self._ready, fd, _IN)
        if new & _OUT and not old & _OUT:
            self.loop.add_writer(fd, self._ready, fd, _OUT)
        if new:
            self._fds[fd] = new

    def _ready(self, fd, what):
        if self._yield_due():
            return  # this iteration's slice is spent: the loop reports the fd again in the next one
        self._finish(self._multi.action(fd, what))

    def _on_timer(self):
        self._timer = None
        self._finish(self._multi.action(-1, 0))

    def _finish(self, done):
        # after any action libcurl has started what it was given (a socket
        # action may do it and drop its timer): the next batch may go
        self._added = 0
        if self._next_action is not None:
            self._next_action.set_result(None)
            self._next_action = None
        self._resolve(done)

    def _resolve(self, done):
        for steps in done:
            future = self._pending.pop(steps, None)
            if future is not None and not future.done():
                future.set_result(None)
        self._arm()

    def _arm(self):
        delay = self._multi.timeout()
        if delay is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        when = self.loop.time() + delay
        if self._timer is not None:
            if self._timer_when <= when + 0.001:
                return  # an earlier (or the same) wake-up is already set
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._on_timer)
        self._timer_when = when  # (uvloop's timer handles have no when())

    async def send(self, steps, credential):
        if self._multi is None or credential:
            await self.loop.run_in_executor(None, steps.send_blocking)
            return
        # no timer due soon: nothing waits for libcurl to start it (requests
        # queued for a connection, or only read-timeout deadlines, wait for
        # sockets or minutes, not for the next action)
        while self._added >= _BATCH and self._timer is not None and self._timer_when - self.loop.time() < 0.05:
            if self._next_action is None:
                self._next_action = self.loop.create_future()
            await asyncio.shield(self._next_action)
        if not self._multi.send(steps):
            return  # refused before sending: the call has its error
        self._added += 1
        future = self.loop.create_future()
        self._pending[steps] = future
        try:
            self._arm()
            await future
        except BaseException:
            if self._pending.pop(steps, None) is not None:  # still in flight: abort it
                self._resolve(self._multi.remove(steps))  # (a request waiting for a connection takes its place)
            raise

    def _slice_end(self):
        self._slice_start = None

    def _yield_due(self):
        """True when this loop iteration has spent its slice on steps."""
        now = time.perf_counter()
        if self._slice_start is None:
            self._slice_start = now
            self.loop.call_soon(self._slice_end)
            return False
        return now - self._slice_start > _SLICE

    async def run(self, steps):
        """Drives a call to its next event or its end: (_EVENT, value) or
        (_DONE, result). On an exception (the call's error, a cancellation)
        the call is released."""
        try:
            while True:
                if self._yield_due():
                    await asyncio.sleep(0)
                kind, value = steps.advance()
                if kind == _SEND:
                    await self.send(steps, value)
                elif kind == _SLEEP:
                    await asyncio.sleep(value)
                else:
                    return kind, value
        except BaseException:
            steps.close()
            raise

    async def _thread(self, steps, fn):
        """fn (steps.work or steps.send_blocking) in the loop's default
        executor. The call is the thread's until fn returns: a cancellation
        meanwhile asks the machine to stop (a WORK step stops early), waits
        for the thread, then propagates."""
        future = self.loop.run_in_executor(None, fn)
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            steps.cancel()
            await asyncio.shield(future)  # (cancelled again: the call is released when the thread ends)
            raise

    async def compile(self, steps, callback):
        """Drives compile()'s (or compile_many()'s) machine to its end: SEND on the loop, SLEEP as
        asyncio.sleep, WORK in the executor, each event to callback on the
        loop. A cancellation (or an exception from the callback) stops the
        flow as Ctrl-C stops the blocking compile: the machine is cancelled,
        its remaining steps (stopping the job) are driven, then the
        cancellation (or the exception) propagates; a second one gives up."""
        interrupt = None
        try:
            while True:
                try:
                    if self._yield_due():
                        await asyncio.sleep(0)
                    kind, value = steps.advance()
                except BaseException:
                    if interrupt is not None:
                        raise interrupt
                    raise
                try:
                    if kind == _SEND:
                        if value:  # a credential request: its own short timeouts, in a thread
                            await self._thread(steps, steps.send_blocking)
                        elif self._multi is None:
                            await self._thread(steps, steps.send_blocking)
                        else:
                            await self.send(steps, value)
                    elif kind == _SLEEP:
                        await asyncio.sleep(value)
                    elif kind == _WORK:
                        await self._thread(steps, steps.work)
                    elif kind == _EVENT:
                        if callback is not None and interrupt is None:
                            answer = callback(value)
                            if asyncio.iscoroutine(answer):
                                answer = await answer
                            if answer is False:  # no more events to it, as in the blocking compile
                                steps.cancel(by_callback=True)
                                callback = None
                    else:
                        if interrupt is not None:
                            raise interrupt
                        return value
                except BaseException as e:
                    if interrupt is not None or not steps.open:
                        raise
                    interrupt = e
                    steps.cancel()
        finally:
            steps.close()

    def close(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for fd, what in self._fds.items():
            if what & _IN:
                self.loop.remove_reader(fd)
            if what & _OUT:
                self.loop.remove_writer(fd)
        self._fds.clear()
        for future in self._pending.values():
            if not future.done():
                future.cancel()
        self._pending.clear()
        if self._multi is not None:
            self._multi.close()


class AsyncPageIterator:
    """``async for page in paginator.paginate(...)``: the pages of a paginated
    operation (smneo.PageIterator's, awaited). After the run ``resume_token``
    holds a token for StartingToken when MaxItems stopped it early."""

    def __init__(self, client, operation, params, max_items, page_size, starting_token):
        self._client = client
        self._op = operation
        self._params = params
        self._config = (max_items, page_size, starting_token)
        self.resume_token = None

    @property
    def result_keys(self):
        return [self._op["result_key"]]

    def __aiter__(self):
        return self._client._iterate(self._op, self._params, *self._config, pages=True, owner=self)

    async def build_full_result(self):
        """All pages merged as smneo.PageIterator.build_full_result merges them."""
        return _glue.merge_pages(self._op["result_key"], [page async for page in self], self.resume_token)


class AsyncPaginator:
    """client.get_paginator(name): paginate(PaginationConfig=..., **params) -> AsyncPageIterator."""

    def __init__(self, client, operation):
        self._client = client
        self._op = operation

    def paginate(self, PaginationConfig=None, **kwargs):  # noqa: N803 (boto3's name)
        max_items, page_size, token = _glue._pagination_config(PaginationConfig)
        return AsyncPageIterator(self._client, self._op, kwargs, max_items, page_size, token)

    def __repr__(self):
        return "<smneo.aio.Paginator %s>" % self._op["python_name"]


class Client:
    """smneo.aio.Client(...): smneo.Client's arguments (region_name,
    endpoint_url, profile_name, credentials, config, validation, ...), every
    operation a coroutine. ``async with`` closes it; paginators and the
    iter_* methods are ``async for``; ``await wait_for_compilation_job(...)``.
    The same results, exceptions and validation as smneo.Client, which it
    wraps (``client.sync``: blocking calls on the same connections' settings).
    Used from one event loop at a time."""

    def __init__(self, *args, **kwargs):
        self.sync = _glue.Client(*args, **kwargs)
        self._driver = None

    # ---- shared with the blocking client ------------------------------------
    region_name = property(lambda self: self.sync.region_name, doc="the resolved region")
    endpoint_url = property(lambda self: self.sync.endpoint_url, doc="the resolved endpoint URL")
    max_attempts = property(lambda self: self.sync.max_attempts, doc="attempts per call")
    retry_mode = property(lambda self: self.sync.retry_mode, doc="the resolved retry mode")
    defaults_mode = property(lambda self: self.sync.defaults_mode, doc="the resolved defaults mode")
    closed = property(lambda self: self.sync.closed, doc="True after close()")
    meta = property(lambda self: self.sync.meta, doc="client.meta (events, region_name, ...), the wrapped client's")
    exceptions = property(lambda self: self.sync.exceptions, doc="ClientError and the modeled errors")

    def can_paginate(self, operation_name):
        return self.sync.can_paginate(operation_name)

    def build_request(self, *args, **kwargs):
        """The signed request a call would send (smneo.Client.build_request); nothing is sent."""
        return self.sync.build_request(*args, **kwargs)

    def parse_response(self, *args, **kwargs):
        return self.sync.parse_response(*args, **kwargs)

    def __repr__(self):
        return "<smneo.aio.Client region=%r endpoint=%r%s>" % (self.region_name, self.endpoint_url,
                                                              " closed" if self.closed else "")

    # ---- driving ---------------------------------------------------------------
    def _loop_driver(self):
        loop = asyncio.get_running_loop()
        driver = self._driver
        if driver is not None and driver.loop is not loop:
            if driver.in_flight or driver._pending:
                raise RuntimeError("this smneo.aio.Client has calls in flight on another event loop: use one "
                                   "client per loop")
            driver.close()
            driver = None
        if driver is None:
            if self.sync.closed:
                raise RuntimeError("this smneo.aio.Client is closed: create a new one")
            driver = self._driver = _Driver(self.sync, loop)
        return driver

    async def _call(self, operation, args, params):
        steps = self.sync._steps_call(operation["name"], args, params)
        kind, value = await self._loop_driver().run(steps)
        wrap = _glue.RESULT_TYPES.get(operation["name"])
        return wrap(value) if wrap is not None else value

    async def _iterate(self, op, params, max_items, page_size, starting_token, pages, owner=None):
        steps = self.sync._steps_paginate(op["name"], params, max_items, page_size, starting_token, pages)
        try:
            async for value in self._drain(steps):
                yield value
        finally:
            if owner is not None:
                owner.resume_token = steps.resume_token

    # ---- the client's methods ------------------------------------------------
    def get_paginator(self, operation_name):
        """An AsyncPaginator for an operation that pages (%s)."""
        self.sync.get_paginator(operation_name)  # the same refusal for one that does not
        return AsyncPaginator(self, _glue._operation(operation_name))

    async def wait_for_compilation_job(self, name, *, progress=False, callback=None, **kwargs):
        """await wait_for_compilation_job(name, *, delay=5, max_delay=60, timeout=None, callback=None,
        progress=False) -> dict, as smneo.Client's: polls until COMPLETED or raises CompilationJobFailed,
        CompilationJobStopped, WaiterTimeout, WaiterCancelled (callback(description) returned False; the
        callback may be a coroutine function). Cancelling the task stops waiting (the job keeps running)."""
        with _display.live(progress, callback, name, waiter=True) as live:
            steps = self.sync._steps_wait(name, callback=live.callback, **kwargs)
            driver = self._loop_driver()
            while True:
                kind, value = await driver.run(steps)
                if kind == _DONE:
                    return _display.JobDescription(value)
                if live.callback is not None:
                    answer = live.callback(value)
                    if asyncio.iscoroutine(answer):
                        answer = await answer
                    if answer is False:
                        steps.cancel()

    def get_compilation_job_logs(self, name, *, start_time=None, follow=False, delay=None, max_delay=None,
                                 tail=None):
        """async for event in get_compilation_job_logs(name, ...): smneo.Client's
        job log reader (the same arguments, events, smneo.LogWarning and
        errors), polling with asyncio.sleep when follow=True."""
        args = _glue._job_logs_args(name, start_time, follow, delay, max_delay, tail)
        return self._drain(self.sync._steps_logs(*args))

    async def _drain(self, steps):
        try:
            while True:
                kind, value = await self._loop_driver().run(steps)
                if kind == _DONE:
                    return
                yield value
        finally:
            steps.close()

    async def compile(self, *args, **kwargs):
        """await compile(model, *, ...) -> CompileResult: smneo.Client.compile's
        arguments, result and exceptions (docs/compile.md), on the loop: its
        API calls go out as this client's others, its back-off sleeps are
        asyncio.sleep, and its packing, digests, S3 transfers and extraction
        run in the loop's default executor. callback(event) (a coroutine
        function is awaited) and progress=True get the events on the loop
        (a transfer's byte counts when its step ends). Cancelling the task
        stops the job (unless keep_job_on_cancel) before the cancellation
        propagates, as Ctrl-C does for the blocking compile."""
        options, callback, progress = _glue.compile_arguments(args, kwargs)
        with _display.live(progress, callback, options.get("job_name")) as live:
            driver = self._loop_driver()
            steps = self.sync._steps_compile(options)
            try:
                out = await driver.compile(steps, live.callback)
            except _smneo.CompilationJobFailed as e:
                _glue.compile_failed(e)
                raise
            return _glue.compile_result(out)

    async def compile_many(self, jobs=None, *, models=None, targets=None, max_concurrent=None, state_file=None,
                           retry_failed=False, keep_jobs_on_cancel=False, callback=None, **common):
        """await compile_many(jobs=None, *, models=None, targets=None, max_concurrent=None, state_file=None,
        retry_failed=False, keep_jobs_on_cancel=False, callback=None, **common) -> list of CompileRow:
        smneo.Client.compile_many's arguments, rows, state file, default bucket and exceptions (docs/compile.md,
        "Many jobs"), on the loop as compile() is: the core's compile_many machine, its API calls sent as this
        client's others, its back-off sleeps asyncio.sleep, its packing, digests, transfers and state file in
        the loop's default executor. callback(event) is called on the loop, in order (a coroutine function is
        awaited); returning False cancels as it does for the blocking client. Cancelling the task stops every
        running job (unless keep_jobs_on_cancel) as Ctrl-C does, waits for that, then the cancellation
        propagates."""
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable or None")
        options, many = _glue.compile_many_arguments(jobs, models, targets, max_concurrent, state_file,
                                                     retry_failed, keep_jobs_on_cancel, common)
        driver = self._loop_driver()
        steps = self.sync._steps_compile_many(options, many)
        return _glue.compile_many_rows(await driver.compile(steps, callback))

    async def close(self):
        """Aborts what is in flight and releases the connections. Idempotent."""
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        self.sync.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
        return False


Client.get_paginator.__doc__ %= _glue._PAGINATED


def _operation_method(op):
    async def method(self, *args, **kwargs):
        return await self._call(op, args, kwargs)

    method.__name__ = op["python_name"]
    method.__qualname__ = "Client." + op["python_name"]
    doc = getattr(_smneo.Client, op["python_name"]).__doc__ or ""
    method.__doc__ = "await " + doc
    return method


def _item_iterator(op):
    def iterate(self, **kwargs):
        return self._iterate(op, kwargs, 0, 0, None, False)

    iterate.__name__ = op["iter_name"]
    iterate.__qualname__ = "Client." + op["iter_name"]
    iterate.__doc__ = ("async for item in %s(**kwargs): every item of %s (its %s) over all pages."
                       % (op["iter_name"], op["python_name"], op["result_key"]))
    return iterate


for _op in _glue._OPERATIONS.values():
    setattr(Client, _op["python_name"], _operation_method(_op))
    if _op["iter_name"]:
        setattr(Client, _op["iter_name"], _item_iterator(_op))
Client.__module__ = "smneo.aio"
AsyncPaginator.__module__ = "smneo.aio"
AsyncPageIterator.__module__ = "smneo.aio"
