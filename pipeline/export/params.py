"""The ``export`` section of ``params.yaml``: ONNX opset, exporter, parity tolerance, metadata."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pipeline.core.params_base import StrictModel, distinct


class ExportParams(StrictModel):
    """How the teacher and the compressed model become released ONNX files."""

    opset: int = Field(ge=17, le=23, description="ONNX opset (17 or newer)")
    exporter: Literal["torchscript", "dynamo"] = Field(
        default="torchscript",
        description="torch.onnx exporter; torchscript gives named dynamic axes and exports in "
                    "seconds, dynamo needs a batch-2 example and ~10x longer")
    parity_atol: float = Field(default=1e-4, gt=0.0, le=1e-2,
                               description="largest allowed |logit(ONNX) - logit(PyTorch)|")
    max_argmax_mismatches: int = Field(default=0, ge=0,
                                       description="voxels whose argmax may differ (0: identical)")
    model_version: str = Field(min_length=1)
    intended_use: str = Field(min_length=1)
    labels: Annotated[list[Annotated[str, Field(min_length=1)]], distinct("a class name")] = Field(
        min_length=2, max_length=2,
        description="class names by output channel: the UNet has two (pipeline.nets.unet.OUT_CHANNELS)")
    sw_overlap: float = Field(default=0.25, ge=0.0, lt=1.0, description="sliding-window overlap")
    sw_batch_size: int = Field(default=4, ge=1, description="windows per ONNX Runtime call")
    latency_repeats: int = Field(default=10, ge=1, le=1000, description="timed calls per latency median")
    threads: int = Field(default=2, ge=1, le=256, description="ORT and torch threads")
