"""Seeds, thread count and a hash of the weights: what makes two runs comparable.

CPU training is bitwise reproducible only at a fixed thread count, so the count is pinned
here and recorded in the metrics beside the seed.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch
from monai.utils import set_determinism


def pin(seed: int, threads: int) -> dict:
    """Seed python, numpy, torch and MONAI; pin torch to ``threads`` CPU threads.

    Args:
        seed: the training seed.
        threads: torch intra-op threads.
    Returns:
        what was pinned, for the metrics file.
    """
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process (second run in one test session)
        pass
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    set_determinism(seed=seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return {"seed": seed, "threads": torch.get_num_threads(), "torch": str(torch.__version__)}


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over parameter names, shapes, dtypes and bytes, in key order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()
