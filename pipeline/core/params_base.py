"""The base every params section and design-item model derives from."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors, values are not coerced across types, instances are frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
