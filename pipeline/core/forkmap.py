"""``fork_map``: run a function over a list in forked worker processes, results in input order.

Why fork: the workers inherit what the parent already holds (the parsed DICOM headers, the imported
MONAI and torch, the function itself, closures included) instead of receiving it pickled or
importing it again; only the results travel back. A spawned worker would first spend the 4-7 s that
``import monai`` costs on this machine. The preprocess stage was one process on a 2-core machine;
its per-case work (reading a series, resampling, compressing the cache file) is independent per case.

Each worker runs torch single-threaded when torch is loaded: N workers are meant for N cores
(two OpenMP threads per worker on a busy 2-core machine ran several times slower, see
``train.threads`` in ``params.yaml``), and a forked child must not use an OpenMP pool its parent
started. Single-threaded and multi-threaded torch give the same values for the element-wise
resampling the stage does (the cache files are byte-identical, ``tests/preprocess``).
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_TASK: tuple[Callable, Sequence] | None = None


def fork_map(fn: Callable[[Item], Result], items: Sequence[Item], workers: int) -> Iterator[Result]:
    """``fn(item)`` for every item, in the order of ``items``, in up to ``workers`` forked processes.

    With ``workers`` <= 1, a single item, or where ``fork`` is not available, it runs here, lazily.
    ``fn`` and ``items`` are not pickled (the workers inherit them); results are. An exception in
    ``fn`` is raised here, as in a loop.

    Args:
        fn: the work for one item; any callable (a closure or lambda too).
        items: the inputs, indexable.
        workers: the most processes to use.
    """
    workers = min(workers, len(items))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(fn, items)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init, initargs=(fn, items)) as pool:
        yield from pool.map(_call, range(len(items)))


def _init(fn: Callable, items: Sequence) -> None:
    global _TASK
    _TASK = (fn, items)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _call(index: int):
    fn, items = _TASK
    return fn(items[index])
