"""The base every params section and design-item model derives from."""

from pydantic import AfterValidator, BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors, values are not coerced across types, instances are frozen, and
    no float may be NaN or infinite (a NaN window or spacing gives plausible wrong results)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def distinct(what: str) -> AfterValidator:
    """For ``Annotated[list[...], distinct("a site")]``: a list whose items must all differ (a site,
    a label, a runtime given twice is a typing slip that would silently count double)."""
    def check(value: list) -> list:
        twice = [item for index, item in enumerate(value) if item in value[:index]]
        if twice:
            raise ValueError(f"{what} is given twice: {twice[0]!r}")
        return value
    return AfterValidator(check)
