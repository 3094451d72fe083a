"""How spans leave (tyk.conf `opentelemetry`): the SDK's batch processor with a bounded queue whose
drops are counted, and an exporter that, once an export has failed, drops batches unencoded for a while.

Encoding a span for OTLP costs about 30 us of the export thread, which holds the interpreter's lock
meanwhile; a collector that is down must not have every batch encoded again for nothing. It must not
run on a request: both classes act on the SDK's export thread, or when a span ends (a length check).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence, Sized

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from gateway.log import Throttle, get_logger

log = get_logger("traces")

DROP_LOG_INTERVAL = 30.0  # seconds between "queue full" lines while a collector is down
PAUSE_FIRST = 5.0  # seconds batches are dropped after a failed export, doubling while it keeps failing
PAUSE_MOST = 60.0


class CountedBatch(BatchSpanProcessor):
    """The SDK's batch processor, dropping a span itself when the queue is full: counted, and logged at
    most once per interval with the count (the SDK would make a log record per dropped span)."""

    def __init__(self, exporter: SpanExporter, queue_size: int, delay_ms: float, batch: int, timeout: float):
        super().__init__(exporter, queue_size, delay_ms, batch, timeout)
        self.queue_size = queue_size
        self.dropped = 0
        self._queue: Sized = getattr(getattr(self, "_batch_processor", None), "_queue", ())
        self._said = Throttle(DROP_LOG_INTERVAL)

    def on_end(self, span: ReadableSpan) -> None:
        if len(self._queue) >= self.queue_size:
            self.dropped += 1
            if self._said.allow_count("dropped") is not None:
                log.warning("traces: export queue full (%d spans), %d dropped", self.queue_size, self.dropped)
            return
        super().on_end(span)


class Paused(SpanExporter):
    """The OTLP exporter, paused after a failure: the batches of the pause are dropped (and counted)
    without being encoded. The pause doubles while exports keep failing, and ends on the first success."""

    def __init__(self, inner: SpanExporter, clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._clock = clock
        self._until = 0.0
        self._pause = PAUSE_FIRST
        self.dropped = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._clock() < self._until:
            self.dropped += len(spans)
            return SpanExportResult.FAILURE
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self._pause = PAUSE_FIRST
        else:
            self.dropped += len(spans)
            self._until = self._clock() + self._pause
            log.warning("traces: export failed; spans are dropped for the next %g s", self._pause)
            self._pause = min(PAUSE_MOST, self._pause * 2)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
