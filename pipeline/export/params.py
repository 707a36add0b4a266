"""The ``export`` section of ``params.yaml``: ONNX opset, exporter, parity tolerance, metadata."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel


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
                                       description="voxels whose class may differ where PyTorch decided it by more than "
                                                   "2 x parity_atol (0: identical; nearer the operating "
                                                   "point a difference is a tie, recorded)")
    model_version: str = Field(min_length=1)
    intended_use: str = Field(min_length=1)
    sw_overlap: float = Field(default=0.25, ge=0.0, lt=1.0, description="sliding-window overlap")
    sw_batch_size: int = Field(default=4, ge=1, description="windows per ONNX Runtime call")
    latency_repeats: int = Field(default=10, ge=1, le=1000, description="timed calls per latency median")
    threads: int = Field(default=2, ge=1, le=256, description="ORT and torch threads")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        # the label map's one home is the data source: the file's label map is read from the cache
        if isinstance(data, dict) and "labels" in data:
            raise ValueError("labels was replaced by preprocess.source.classes (the class names, class 1..N; "
                             "background is class 0)")
        return data
