"""A tiny locked test split, torch checkpoint and ONNX files for stage tests (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pipeline.nets.onnx import export_onnx
from pipeline.runtime.spec import PreprocessingSpec
from pipeline.data.cache import write_case
from pipeline.recipe.determinism import weights_sha256
from pipeline.nets.checkpoint import save_checkpoint
from pipeline.nets.unet import build_unet
from pipeline.verify.stage import VerifyPaths
from tests import records as records_

SHAPE = (32, 32, 16)
PATCH = [16, 16, 16]
NETWORK = {"spatial_dims": 3, "channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 1, "dropout": 0.0}
SMALL = {**NETWORK, "channels": [2, 4, 8]}
CASES = [("c1", "p1", "site-a", "SIEMENS", "F", 40), ("c2", "p1", "site-a", "SIEMENS", "F", 41),
         ("c3", "p2", "site-b", "GE", "M", 70), ("c4", "p3", "site-b", "GE", "unknown", None)]


def make_cache(root: Path) -> tuple[Path, Path]:
    """Write a preprocessed cache and a splits file whose test split holds four cases."""
    cache, rng = root / "preprocessed", np.random.default_rng(0)
    records, entries = {}, []
    for i, (case_id, patient, site, maker, sex, age) in enumerate(CASES):
        label = np.zeros(SHAPE, dtype=np.uint8)
        label[8 + i:18 + i, 10:20, 5:10] = 1
        image = (rng.random(SHAPE) * 0.3 + 0.6 * label).astype(np.float32)
        digest = write_case(cache, case_id, image[None], label[None])
        records[case_id] = records_.indexed_case(case_id, patient, digest, list(SHAPE), [1.0, 1.0, 2.5], site=site,
                                                 manufacturer=maker, sex=sex, age=age,
                                                 foreground_voxels=int(label.sum()))
        entries.append(records_.split_case(case_id, patient, digest, site))
    (cache / "index.json").write_text(json.dumps(records_.cache_index(list(records.values()), [1.0, 1.0, 2.5])))
    splits = root / "splits.json"
    splits.write_text(json.dumps(records_.splits({"test": entries}, locked=("test",))))
    return cache, splits


def make_model(root: Path, name: str, network: dict, seed: int) -> tuple[Path, Path]:
    """A random-init UNet saved as a torch checkpoint and exported as ONNX with its sidecar."""
    torch.manual_seed(seed)
    net = build_unet(network).eval()
    checkpoint = root / f"{name}.pt"
    save_checkpoint(checkpoint, net.state_dict(), {"network": network, "patch_size": PATCH})
    spec = PreprocessingSpec(spatial_dims=3, target_spacing_mm=[1.0, 1.0, 2.5], orientation="RAS",
                             normalisation={"kind": "ct_window", "low": -150.0, "high": 250.0},
                             crop_foreground=False, crop_threshold=0.0, crop_margin=0,
                             patch_size=PATCH, sw_overlap=0.25, sw_batch_size=2,
                             labels=["background", "lesion"])
    onnx_path = root / "release" / f"{name}.onnx"
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(net, onnx_path, 3, 1, PATCH, 17,
                metadata={"preprocessing": spec.model_dump_json(), "model_version": "test",
                          "weights_sha256": weights_sha256(net.state_dict())})
    return checkpoint, onnx_path


def make_paths(root: Path) -> VerifyPaths:
    """Cache, splits, a teacher and a compressed model under ``root``."""
    cache, splits = make_cache(root)
    checkpoint, teacher = make_model(root, "teacher", NETWORK, seed=1)
    _, compressed = make_model(root, "compressed", SMALL, seed=2)
    return VerifyPaths(preprocessed=cache, splits=splits,
                       models={"teacher": teacher, "compressed": compressed},
                       teacher_checkpoint=checkpoint, out_dir=root / "reports" / "vnv",
                       metrics=root / "metrics" / "vnv.json",
                       plan=Path(__file__).resolve().parents[2] / "verification" / "criteria.yaml")
