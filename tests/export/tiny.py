"""A tiny preprocessed cache, splits and a random-init teacher for the compress/export/predict tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pipeline.atomic import write_json
from pipeline.compress.params import CompressParams
from pipeline.export.params import ExportParams
from pipeline.preprocess import cache
from pipeline.preprocess.params import PreprocessParams
from pipeline.preprocess.splits import make_splits
from pipeline.train.model import build_unet, save_checkpoint

SHAPE = (20, 18, 10)
PATCH = [16, 16, 8]
NETWORK = {"spatial_dims": 3, "channels": [4, 8], "strides": [2], "num_res_units": 0, "dropout": 0.0}


def make_cache(root: Path, patients: int = 8) -> tuple[Path, Path]:
    """``patients`` one-case patients over two sites: bright blob = label; returns (cache, splits)."""
    rng = np.random.default_rng(0)
    folder, records = root / "cache", {}
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij"))
    for index in range(patients):
        centre = rng.uniform(4, np.array(SHAPE) - 4).reshape(3, 1, 1, 1)
        label = (((grid - centre) / np.array([4, 4, 2.5]).reshape(3, 1, 1, 1)) ** 2).sum(0) <= 1
        image = (0.2 + 0.6 * label + rng.normal(0, 0.05, SHAPE)).astype(np.float32)
        case_id = f"case-{index:02d}"
        digest = cache.write_case(folder, case_id, image[None], label[None].astype(np.uint8))
        records[case_id] = {"case_id": case_id, "patient_id": f"p{index}", "site": "ab"[index % 2],
                            "manufacturer": "x", "sex": "unknown", "age": None, "sha256": digest,
                            "shape": list(SHAPE), "spacing": [1.0, 1.0, 2.0]}
    write_json(folder / cache.INDEX, {"spatial_dims": 3, "target_spacing_mm": [1.0, 1.0, 2.0],
                                      "orientation": "RAS", "cases": records,
                                      "normalisation": {"kind": "ct_window", "low": -150.0, "high": 250.0}})
    params = preprocess_params()
    splits = make_splits(list(records.values()), params.splits)
    write_json(root / "splits.json", splits)
    return folder, root / "splits.json"


def make_teacher(path: Path, seed: int = 0) -> Path:
    """A random-init tiny UNet saved as the train stage saves ``models/teacher.pt``."""
    torch.manual_seed(seed)
    net = build_unet(NETWORK)
    config = {"network": dict(NETWORK), "in_channels": 1, "out_channels": 2, "patch_size": list(PATCH),
              "spatial_dims": 3, "target_spacing_mm": [1.0, 1.0, 2.0], "orientation": "RAS",
              "normalisation": {"kind": "ct_window", "low": -150.0, "high": 250.0},
              "weights_sha256": "f" * 64}
    save_checkpoint(path, {k: v.clone() for k, v in net.state_dict().items()}, config)
    return path


def preprocess_params(**overrides) -> PreprocessParams:
    """``preprocess`` params matching the tiny cache."""
    data = {"source": {"format": "dicom", "path": "unused", "segments": []}, "max_bad_fraction": 0.0,
            "target_spacing_mm": [1.0, 1.0, 2.0],
            "normalisation": {"kind": "ct_window", "low": -150.0, "high": 250.0},
            "crop_foreground": False, "crop_threshold": 0.05, "crop_margin": 2,
            "splits": {"seed": 3, "val_fraction": 0.25, "test_fraction": 0.25, "stratify_by": "site"}}
    data.update(overrides)
    return PreprocessParams.model_validate(data)


def export_params(**overrides) -> ExportParams:
    """``export`` params for tests (few latency repeats)."""
    data = {"opset": 17, "model_version": "0.0.0-test", "intended_use": "test only",
            "labels": ["background", "lesion"], "latency_repeats": 1, "threads": 1}
    data.update(overrides)
    return ExportParams.model_validate(data)


def compress_params(**overrides) -> CompressParams:
    """``compress`` params: one tiny student, two distillation epochs, INT8 on."""
    data = {"students": [{"name": "narrow", "channels": [2, 4], "strides": [2], "num_res_units": 0}],
            "distill": {"epochs": 2, "learning_rate": 0.01, "seed": 1, "threads": 1},
            "quantize": {"enabled": True, "calibration_cases": 2}, "latency_repeats": 1}
    data.update(overrides)
    return CompressParams.model_validate(data)


def read(path: Path) -> dict:
    """A JSON file."""
    return json.loads(Path(path).read_text())


class Threshold(torch.nn.Module):
    """A 1x1 convolution whose argmax is ``normalised intensity > level``: a model with a known answer."""

    def __init__(self, spatial_dims: int = 3, level: float = 0.5, gain: float = 20.0) -> None:
        super().__init__()
        conv = torch.nn.Conv3d if spatial_dims == 3 else torch.nn.Conv2d
        self.conv = conv(1, 2, kernel_size=1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[1] = gain
            self.conv.bias.copy_(torch.tensor([0.0, -gain * level]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def spec(spatial_dims: int = 3, **overrides):
    """A preprocessing spec: CT window -150..250 HU, coarse spacing, foreground crop."""
    from pipeline.export.spec import PreprocessingSpec

    data = {"spatial_dims": spatial_dims, "patch_size": [16, 16, 8][:spatial_dims] if spatial_dims == 3 else [16, 16],
            "sw_overlap": 0.25, "sw_batch_size": 4,
            "target_spacing_mm": [1.5, 1.5, 3.0] if spatial_dims == 3 else [1.0, 1.0], "orientation": "RAS",
            "normalisation": {"kind": "ct_window", "low": -150.0, "high": 250.0},
            "crop_foreground": True, "crop_threshold": 0.05, "crop_margin": 2, "labels": ["background", "lesion"]}
    data.update(overrides)
    return PreprocessingSpec.model_validate(data)


def export_model(module: torch.nn.Module, path: Path, model_spec) -> Path:
    """Export ``module`` with full metadata and a SHA-256 sidecar, as the export stage does."""
    from pipeline.export.metadata import build_metadata
    from pipeline.export.onnx_io import export_onnx

    data = build_metadata("teacher", "0.0.0-test", "abc123", "run-1", model_spec, "test only", "0" * 64)
    export_onnx(module, path, model_spec.spatial_dims, 1, list(model_spec.patch_size), 17, metadata=data)
    return path
