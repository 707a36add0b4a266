"""Robustness of the released models for the verify stage: the test cases perturbed, run again.

Each perturbation a criterion of the plan names (``perturbation:``) is applied to every locked
test case (``pipeline.verify.perturb``: noise, intensity change, blur; ``pipeline.verify.adversarial``:
the gradient-sign attack on the torch teacher), and every model those criteria name runs the
perturbed copy through the same path as the unperturbed evaluation (``predict_volume`` on the
released ONNX file, its post-processing): the per-case row gets ``dice@<perturbation>`` and the
paired ``dice_drop_vs_clean@<perturbation>`` (unperturbed Dice minus perturbed Dice, same case,
same model), which the criteria judge with their bootstrap intervals. Only Dice is computed on
perturbed copies (surface distances would double the cost and no criterion reads them). The
noise is drawn per case from ``(verify.seed, case index)``; the other perturbations are
deterministic. Nothing here is timed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.core.bootstrap import bootstrap_mean
from pipeline.data.cache import LoadedCase
from pipeline.runtime import postprocess
from pipeline.runtime.metrics import class_dice
from pipeline.runtime.sliding import predict_volume
from pipeline.verify import perturb
from pipeline.verify.criteria import LEVEL, perturbed_key
from pipeline.verify.params import RobustnessParams

Attack = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image, label map) -> perturbed image


def wanted(plan) -> dict[str, list[str]]:
    """Perturbation -> the models the plan's criteria judge on it (sorted)."""
    out: dict[str, set[str]] = {}
    for criterion in plan.criteria:
        if criterion.perturbation is not None:
            out.setdefault(criterion.perturbation, set()).update(criterion.models)
    return {name: sorted(models) for name, models in sorted(out.items())}


def perturbed_image(name: str, case: LoadedCase, index: int, params: RobustnessParams, seed: int,
                    bounds: perturb.Bounds, attack: Attack | None) -> np.ndarray:
    """One case's copy under perturbation ``name``.

    Args:
        name: noise, intensity, blur or adversarial.
        case: the loaded case (preprocessed image and label).
        index: the case's position in its split (with ``seed``, the noise's seed).
        params: the ``verify.robustness`` params.
        seed: ``verify.seed``.
        bounds: the normalisation's intensity range (``perturb.bounds_of``).
        attack: the adversarial attack (needs the torch teacher); None when not needed.
    """
    image = np.asarray(case.image, dtype=np.float32)
    if name == "noise":
        rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
        return perturb.gaussian_noise(image, params.noise.sigma, rng, bounds)
    if name == "intensity":
        return perturb.intensity(image, params.intensity.scale, params.intensity.shift, bounds)
    if name == "blur":
        return perturb.blur(image, params.blur.sigma_mm, case.record.spacing, bounds)
    if name == "adversarial":
        if attack is None:
            raise ValueError("the adversarial perturbation needs the torch teacher")
        return attack(image, np.asarray(case.label)[0])
    raise ValueError(f"unknown perturbation {name!r}")


def evaluate(models: dict, cases: list[LoadedCase], rows: dict[str, list[dict]], plan_wants: dict[str, list[str]],
             params: RobustnessParams, seed: int, attack: Attack | None = None, progress=None) -> None:
    """Add ``dice@p`` and ``dice_drop_vs_clean@p`` to each model's rows (same order as ``cases``).

    Args:
        models: model name -> ``OnnxModel`` (a model the plan names but that was not released is skipped).
        cases: the locked test cases.
        rows: model name -> per-case rows of the unperturbed evaluation (updated in place).
        plan_wants: ``wanted(plan)``.
        params: the ``verify.robustness`` params.
        seed: ``verify.seed``.
        attack: the adversarial attack, when the plan names it.
        progress: optional callable wrapping an iterable (a progress bar).
    """
    if not plan_wants:
        return
    for index, case in enumerate(progress(cases) if progress else cases):
        truth = np.asarray(case.label)[0]
        for name, names in plan_wants.items():
            present = [n for n in names if n in models]
            if not present:
                continue
            bounds = perturb.bounds_of(models[present[0]].spec.normalisation)
            image = perturbed_image(name, case, index, params, seed, bounds, attack)
            for model_name in present:
                model = models[model_name]
                logits = predict_volume(model, image, model.spec)
                pred = postprocess.decide(logits, model.spec)
                value = float(np.mean(class_dice(pred, truth, len(model.spec.labels))))
                row = rows[model_name][index]
                if row["case_id"] != case.case_id:
                    raise ValueError(f"row {row['case_id']} is not case {case.case_id}")
                row[perturbed_key("dice", name)] = value
                row[perturbed_key("dice_drop_vs_clean", name)] = row["dice"] - value


def summary(rows: dict[str, list[dict]], plan_wants: dict[str, list[str]], params: RobustnessParams,
            samples: int, seed: int, intensity_range_hu: float | None = None) -> dict:
    """What ``vnv.json`` records per perturbation: its parameters and, per model, the perturbed Dice
    and the paired drop with their 95 % bootstrap intervals (patients resampled).

    Args:
        rows: model name -> per-case rows with the perturbed keys.
        plan_wants: ``wanted(plan)``.
        params: the ``verify.robustness`` params.
        samples: bootstrap resamples.
        seed: bootstrap seed.
        intensity_range_hu: HU per normalised unit (a CT window's high - low) to state the
            parameters in HU too; None for other normalisations.
    """
    out = {}
    for name, names in plan_wants.items():
        settings = getattr(params, name).model_dump()
        if intensity_range_hu is not None:
            settings.update(_in_hu(name, settings, intensity_range_hu))
        per_model = {}
        for model_name in names:
            cases = [r for r in rows.get(model_name, []) if perturbed_key("dice", name) in r]
            if not cases:
                continue
            patients = [str(r.get("patient_id")) for r in cases]
            per_model[model_name] = {
                metric: bootstrap_mean([float(r[perturbed_key(metric, name)]) for r in cases], patients,
                                       samples=samples, seed=seed, level=LEVEL).as_dict()
                for metric in ("dice", "dice_drop_vs_clean")}
        out[name] = {"parameters": settings, "models": per_model}
    return out


def _in_hu(name: str, settings: dict, hu: float) -> dict:
    keys = {"noise": ("sigma",), "intensity": ("shift",), "adversarial": ("epsilon",)}.get(name, ())
    return {f"{k}_hu": round(settings[k] * hu, 6) for k in keys}


def teacher_attack(checkpoint: Path, expected_weights: str | None, roi, params: RobustnessParams, bounds,
                   threads: int) -> Attack:
    """The adversarial attack on the torch teacher whose weights the teacher ONNX file records."""
    import torch

    from pipeline.verify import adversarial
    from pipeline.verify.teacher import load_checked

    torch.set_num_threads(threads)
    net, _, _ = load_checked(checkpoint, expected_weights, "its adversarial perturbations would attack another model")
    for parameter in net.parameters():
        parameter.requires_grad_(False)

    def run(image: np.ndarray, label: np.ndarray) -> np.ndarray:
        return adversarial.attack(net, image, label, roi, params.adversarial.epsilon, params.adversarial.steps, bounds)

    return run
