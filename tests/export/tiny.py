"""A tiny preprocessed cache, splits and a random-init teacher for the compress/export/predict tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pipeline.core.atomic import write_json
from pipeline.core.records import write_record
from pipeline.compress.record import CompressionRecord
from pipeline.compress.params import CompressParams
from pipeline.export.params import ExportParams
from pipeline.data import cache
from pipeline.preprocess.params import PreprocessParams
from pipeline.preprocess.splits import make_splits
from pipeline.nets.checkpoint import save_checkpoint
from pipeline.nets.unet import build_unet
from tests import records as records_

SHAPE = (20, 18, 10)
PATCH = [16, 16, 8]
NETWORK = {"spatial_dims": 3, "channels": [4, 8], "strides": [2], "num_res_units": 0, "dropout": 0.0}
RECIPE = {"patch_size": list(PATCH), "cases_per_batch": 2, "patches_per_case": 1, "pos_neg_ratio": 1.0,
          "batch_dice": False, "flip_prob": 0.0, "augment": {"prob": 0.5}, "accumulation_steps": 1,
          "learning_rate": 0.01, "weight_decay": 1e-5, "sw_batch_size": 2, "sw_overlap": 0.25}


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
        records[case_id] = records_.indexed_case(case_id, f"p{index}", digest, list(SHAPE), [1.0, 1.0, 2.0],
                                                 site="ab"[index % 2], manufacturer="x",
                                                 foreground_voxels=int(label.sum()))
    write_json(folder / cache.INDEX, records_.cache_index(list(records.values()), [1.0, 1.0, 2.0]))
    params = preprocess_params()
    splits = make_splits(list(records.values()), params.splits)
    write_json(root / "splits.json", splits)
    return folder, root / "splits.json"


def make_fingerprint(path: Path) -> Path:
    """A data-set fingerprint of the tiny cache's acquisition (the ``all`` summary export reads)."""
    summary = records_.fingerprint_summary(8, 8, list(SHAPE), list(SHAPE), [1.0, 1.0, 2.0], [1.0, 1.0, 2.0], ["x"])
    write_json(path, records_.fingerprint(summary, {"a": summary}))
    return path


def make_teacher(path: Path, seed: int = 0, network: dict | None = None) -> Path:
    """A random-init tiny UNet (``network``, default ``NETWORK``) saved as the train stage saves
    ``models/teacher.pt``."""
    torch.manual_seed(seed)
    net = build_unet(network or NETWORK)
    save_checkpoint(path, {k: v.clone() for k, v in net.state_dict().items()}, _config(network))
    return path


def _config(network: dict | None = None) -> dict:
    return {"network": dict(network or NETWORK), "in_channels": 1, "out_channels": 2, "patch_size": list(PATCH),
            "spatial_dims": 3, "target_spacing_mm": [1.0, 1.0, 2.0], "orientation": "RAS",
            "normalisation": {"kind": "ct_window", "low": -150.0, "high": 250.0},
            "recipe": RECIPE, "weights_sha256": "f" * 64}


def make_choice(root: Path, compressed: bool = True, runtime: str = "onnxruntime-cpu") -> tuple[Path, Path]:
    """A compression record (and a candidates folder) as the compress stage writes them.

    With ``compressed``, a random-init narrow student ``narrow.pt`` is the chosen candidate;
    without, the record says that none met the targets. Returns (candidates folder, record).
    """
    folder = root / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    model = {"runtime": runtime, "runtime_version": "test", "keep_largest_component": False,
             "val_dice": 0.5, "volume_ms": 1.0, "bytes": 1}
    record = {"teacher": {"candidate": "teacher", "method": "none", "precision": "fp32", "checkpoint": None,
                          **model},
              "compressed": None, "reason": "test", "training_case_ids": [],
              "targets": {"max_dice_drop": 0.01, "min_speedup": 3.0, "min_size_reduction": 4.0, "parity_atol": 1e-4,
                          "max_argmax_mismatches": 0, "speed_tie": 0.1},
              "selection_case_ids": [], "calibration_case_ids": []}
    if compressed:
        network = {**NETWORK, "channels": [2, 4]}
        torch.manual_seed(3)
        config = {**_config(), "network": network, "candidate": "narrow", "weights_sha256": "e" * 64}
        save_checkpoint(folder / "narrow.pt", build_unet(network).state_dict(), config)
        record["compressed"] = {"candidate": "narrow", "method": "distill", "precision": "fp32",
                                "checkpoint": "narrow.pt", **model,
                                "dice_drop": {"mean": 0.0, "ci_lower": 0.0, "ci_upper": 0.0, "n": 2, "patients": 2,
                                              "level": 0.95},
                                "speedup": 4.0, "size_reduction": 5.0}
    write_record(root / "choice.json", record, CompressionRecord, "compression record")
    return folder, root / "choice.json"


def preprocess_params(**overrides) -> PreprocessParams:
    """``preprocess`` params matching the tiny cache."""
    data = {"source": {"format": "dicom", "path": "unused", "classes": [{"name": "lesion"}]}, "max_bad_fraction": 0.0,
            "target_spacing_mm": [1.0, 1.0, 2.0],
            "normalisation": {"kind": "ct_window", "low": -150.0, "high": 250.0},
            "crop_foreground": False, "crop_threshold": 0.05, "crop_margin": 2,
            "splits": {"seed": 3, "val_fraction": 0.25, "test_fraction": 0.25, "stratify_by": "site"}}
    data.update(overrides)
    return PreprocessParams.model_validate(data)


def export_params(**overrides) -> ExportParams:
    """``export`` params for tests (few latency repeats)."""
    data = {"opset": 17, "model_version": "0.0.0-test", "intended_use": "test only",
            "latency_repeats": 1, "threads": 1, "sw_batch_size": 2}
    data.update(overrides)
    return ExportParams.model_validate(data)


def onnx_format() -> dict:
    """The ONNX format the compress stage measures candidates in (``export.opset``, ``export.exporter``)."""
    params = export_params()
    return {"opset": params.opset, "exporter": params.exporter}


def compress_params(**overrides) -> CompressParams:
    """``compress`` params: each method once on a tiny network, one or two epochs, INT8 on,
    targets a random tiny teacher's candidates can meet (speed-up and size at least 1x)."""
    narrow = {"channels": [2, 4], "strides": [2], "num_res_units": 0}
    data = {"candidates": [{"name": "narrow", "method": "distill", "network": narrow, "epochs": 2},
                           {"name": "narrow_scratch", "method": "scratch", "network": narrow, "epochs": 1},
                           {"name": "pruned", "method": "prune", "ratio": 0.5, "epochs": 1}],
            "quantize": {"enabled": True, "calibration_cases": 2},
            # eager_tie: one timing round of networks this small cannot tell a runtime from torch eager
            # (ci25 failed here by chance); the tie is tested in tests/compress/test_select.py
            "selection": {"max_dice_drop": 1.0, "min_speedup": 1.0, "min_size_reduction": 1.0, "eager_tie": 0.99},
            "runtimes": ["onnxruntime-cpu", "openvino-cpu"], "latency_repeats": 1, "bootstrap_samples": 200,
            "seed": 1, "threads": 1, "val_every": 1, "sw_batch_size": 2}
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
    from pipeline.runtime.spec import PreprocessingSpec

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
    from pipeline.nets.onnx import export_onnx

    data = build_metadata("teacher", "0.0.0-test", "abc123", "run-1", model_spec, "test only", "0" * 64)
    export_onnx(module, path, model_spec.spatial_dims, 1, list(model_spec.patch_size), 17, metadata=data)
    return path
