"""Tiny data sets for the data, preprocess and train tests (each builds in about a second)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from pipeline.preprocess.params import PreprocessParams
from pipeline.train.params import TrainParams
from tests.cohort.tiny import tiny_params

REPO = Path(__file__).resolve().parents[2]


def make_cohort(out: Path) -> Path:
    """The two-site tiny DICOM cohort (9 studies of 6 patients, dose screens included)."""
    from pipeline.cohort.generate import run

    run(tiny_params(), out)
    return out


def make_image_folder(root: Path, count: int = 6, size: int = 32) -> Path:
    """``count`` PNG images with a bright disc and its mask (255 inside), named 0.png..."""
    rng = np.random.default_rng(0)
    (root / "image").mkdir(parents=True, exist_ok=True)
    (root / "label").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    for index in range(count):
        cy, cx, r = rng.integers(8, size - 8), rng.integers(8, size - 8), rng.integers(4, 7)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        image = np.clip(60 + 120 * disc + rng.normal(0, 10, disc.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(root / "image" / f"{index}.png")
        Image.fromarray((disc * 255).astype(np.uint8)).save(root / "label" / f"{index}.png")
    return root


def preprocess_params(source_path: Path, **overrides) -> PreprocessParams:
    """``preprocess`` params for the tiny DICOM cohort (coarse spacing, CT window)."""
    data = {
        "source": {"format": "dicom", "path": str(source_path), "classes": [{"name": "lesion"}]},
        "max_bad_fraction": 0.0,
        "target_spacing_mm": [2.5, 2.5, 5.0],
        "normalisation": {"kind": "ct_window", "low": -150.0, "high": 250.0},
        "crop_foreground": True, "crop_threshold": 0.05, "crop_margin": 2,
        "splits": {"seed": 3, "val_fraction": 0.25, "test_fraction": 0.25, "stratify_by": "site"},
    }
    data.update(overrides)
    return PreprocessParams.model_validate(data)


def train_params(spatial_dims: int = 3, **overrides) -> TrainParams:
    """A tiny U-Net that trains on the tiny cache in about a second per epoch."""
    data = {
        "network": {"spatial_dims": spatial_dims, "channels": [4, 8], "strides": [2], "num_res_units": 0},
        "patch_size": [16, 16, 8] if spatial_dims == 3 else [16, 16],
        "cases_per_batch": 2, "patches_per_case": 2, "epochs": 2, "learning_rate": 0.01,
        "accumulation_steps": 2, "seed": 11, "threads": 1, "sw_batch_size": 2,
    }
    data.update(overrides)
    return TrainParams.model_validate(data)


def params_file(path: Path, train: TrainParams, preprocess: PreprocessParams | None = None) -> Path:
    """The repository's ``params.yaml`` with the train (and preprocess) sections replaced."""
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["train"] = train.model_dump()
    for section in ("compress", "export"):  # the sliding windows all sections share (Params._copies_agree)
        data[section].update(sw_batch_size=train.sw_batch_size, sw_overlap=train.sw_overlap)
    if preprocess is not None:
        data["preprocess"] = preprocess.model_dump()
    path.write_text(yaml.safe_dump(data))
    return path
