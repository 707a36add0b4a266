"""The training recipe the teacher was trained with, and students are trained with again.

``RecipeParams`` is the part of the ``train`` section that says *how* a network learns
(patches, augmentation, loss, optimiser, schedule, validation windows), apart from *which*
network and for how long. The train stage stores it in the teacher's checkpoint
(``config["recipe"]``), so the compress stage trains its candidates with exactly the recipe
the teacher had, read from the teacher, not from another stage's params section.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from pipeline.core.params_base import StrictModel


class AugmentParams(StrictModel):
    """Intensity augmentation of training patches (MONAI transforms), each applied with ``prob``.

    Scanners differ in noise, contrast and sharpness (RISK-005); training patches are varied along
    these axes. Values are in the normalised intensity units of the preprocessing (for the CT
    window -150..250 HU, 0.05 is 20 HU). ``prob: 0`` switches augmentation off. Noise and shift
    are at most 1 (the whole CT window, or one standard deviation of a z-scored case): above it a
    patch is mostly noise or offset, not another scanner.
    """

    prob: float = Field(default=0.0, ge=0.0, le=1.0, description="chance of each transform per patch")
    noise_std: float = Field(default=0.05, ge=0.0, le=1.0,
                             description="Gaussian noise, std drawn from [0, noise_std]")
    smooth_sigma: list[float] = Field(default=[0.5, 1.0], min_length=2, max_length=2,
                                      description="Gaussian blur sigma range in voxels")
    scale: float = Field(default=0.1, ge=0.0, lt=1.0, description="intensity x (1 + U(-scale, scale))")
    shift: float = Field(default=0.05, ge=0.0, le=1.0, description="intensity + U(-shift, shift)")
    gamma: list[float] = Field(default=[0.7, 1.5], min_length=2, max_length=2, description="contrast gamma range")

    @field_validator("smooth_sigma", "gamma")
    @classmethod
    def _range(cls, value: list[float]) -> list[float]:
        low, high = value
        if not 0 < low <= high:
            raise ValueError("must be [low, high] with 0 < low <= high")
        return value


class RecipeParams(StrictModel):
    """How a network is trained on balanced patches (the ``train`` section minus network and run)."""

    patch_size: list[Annotated[int, Field(ge=1)]] = Field(min_length=2, max_length=3)
    cases_per_batch: int = Field(ge=1, le=64)
    patches_per_case: int = Field(ge=1, le=64, description="patches drawn from each case per step")
    pos_neg_ratio: float = Field(default=1.0, gt=0.0, description="foreground : background patch centres")
    batch_dice: bool = Field(default=False, description="Dice term over the whole batch, not per patch")
    flip_prob: float = Field(default=0.0, ge=0.0, le=1.0, description="random flip per axis")
    augment: AugmentParams = Field(default_factory=AugmentParams)
    accumulation_steps: int = Field(default=1, ge=1, le=64)
    learning_rate: float = Field(gt=0.0, le=1.0)
    weight_decay: float = Field(default=1e-5, ge=0.0, le=1.0, description="AdamW's decoupled weight decay")
    sw_batch_size: int = Field(default=4, ge=1)
    sw_overlap: float = Field(default=0.25, ge=0.0, lt=1.0)


def recipe_of(params: StrictModel) -> RecipeParams:
    """The recipe fields of a params model that extends ``RecipeParams`` (e.g. ``TrainParams``)."""
    return RecipeParams.model_validate({name: getattr(params, name) for name in RecipeParams.model_fields})
