"""The base every params section and design-item model derives from."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors, values are not coerced across types, instances are frozen, and
    no float may be NaN or infinite (a NaN window or spacing gives plausible wrong results)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
