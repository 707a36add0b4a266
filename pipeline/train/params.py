"""The ``train`` section of ``params.yaml``: network, patches, optimiser, schedule, determinism."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.nets.params import NetworkParams
from pipeline.recipe.params import RecipeParams


class TrainParams(RecipeParams):
    """How the teacher network is trained: the recipe, the network and the run."""

    network: NetworkParams
    epochs: int = Field(ge=1, le=10000)
    val_every: int = Field(default=1, ge=1)
    val_after: float = Field(default=0.0, ge=0.0, lt=1.0,
                             description="share of the epochs before the first validation (the last always does)")
    seed: int = Field(ge=0)
    threads: int = Field(ge=1, le=256, description="torch CPU threads, pinned: weights are bitwise "
                                                   "reproducible only at a fixed thread count")
    amp: bool = Field(default=True, description="mixed precision: float16 on CUDA, bfloat16 on CPUs with "
                                                "native bfloat16 (AVX512-BF16, AMX), float32 elsewhere")
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @model_validator(mode="after")
    def _dims(self) -> "TrainParams":
        if len(self.patch_size) != self.network.spatial_dims:
            raise ValueError(f"patch_size = {self.patch_size}: needs network.spatial_dims = "
                             f"{self.network.spatial_dims} values")
        factor = 1
        for stride in self.network.strides:
            factor *= stride
        if any(size % factor for size in self.patch_size):
            raise ValueError(f"patch_size = {self.patch_size}: must be divisible by {factor} "
                             f"(the product of network.strides)")
        return self
