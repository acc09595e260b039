"""A per-batch cache for numeric functions whose result depends only on the batch (Monte Carlo draws, module inits).

The engine evaluates a claim's numeric function on the same float64 batch for the float64 run, as the
oracle of each lower-precision run, and for every mutant; a function whose random draws depend only on
the batch (its seed, dimensions and values) can compute them once. The key hashes every value of the
batch, so a different instance is never answered from the cache, and `depends()` names the functions
the computation runs (e.g. torch's init functions), so a patched or changed one is not either.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

import torch

CACHE_SIZE = 16


def batch_key(sample, dtype_too: bool = True, depends: Callable[[], tuple] = tuple) -> tuple:
    """What a batch's result may depend on: seed, size, dims, a hash of every value, `depends()`, and dtype/device."""
    digest = hashlib.sha1()
    for name in sorted(sample.values):
        digest.update(name.encode())
        digest.update(sample.values[name].detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    parts = (sample.seed, sample.size, tuple(sorted(sample.dims.items())), digest.hexdigest(), depends())
    return parts + ((str(sample.dtype), str(sample.device)) if dtype_too else ())


def per_batch(fn: Callable | None = None, *, per_dtype: bool = True, depends: Callable[[], tuple] = tuple,
              size: int = CACHE_SIZE):
    """Cache `fn(sample, *args)` per batch (and per dtype and device unless `per_dtype` is False).

    Use as `@per_batch` or `@per_batch(per_dtype=False, depends=lambda: (torch.nn.Linear.reset_parameters,))`.
    The last `size` results are kept.
    """

    def decorate(fn):
        cache: OrderedDict = OrderedDict()

        def wrapper(sample, *args):
            key = batch_key(sample, per_dtype, depends) + args
            if key not in cache:
                cache[key] = fn(sample, *args)
                while len(cache) > size:
                    cache.popitem(last=False)
            cache.move_to_end(key)
            return cache[key]

        wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
        wrapper.cache = cache
        return wrapper

    return decorate(fn) if fn is not None else decorate
