"""Where the cases come from: one reader per data layout, chosen by ``format``, and the classes
the data source declares (its label map: the one home of the class names).

``classes`` lists the structures to segment in the order of their class index: the first is
class 1, the next class 2, ...; class 0 is the background, implicitly. Each class names the
source's own label values it is made of: label values of an MSD label volume, pixel values of
an image-folder mask, segment labels (SegmentLabel) of a DICOM SEG. A source value that no
class lists is background. ``values`` left out means "everything that is not background" (every
label > 0, every non-zero mask pixel, every SEG segment) and is allowed only for a single class:
the binary default is ``classes: [{name: lesion}]``. The class names travel with the data from
here on: the cache index records them, training sizes the network's outputs by them, the
released file's label map and the V&V per-class metrics are named by them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from pipeline.core.params_base import StrictModel, distinct
from pipeline.runtime.spec import BACKGROUND  # class 0's name, implicit in every label map
RENAMED = {  # keys of earlier releases -> what replaced them (refused with this message)
    "segments": "classes (e.g. classes: [{name: lesion, values: [Lesion]}]: SEG segment labels per class)",
    "foreground_labels": "classes (e.g. classes: [{name: lesion, values: [1, 2]}]: label values per class)",
    "foreground_values": "classes (e.g. classes: [{name: membrane, values: [0]}]: mask pixel values per class)",
}

ClassName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\[\]]*\S[^\[\]]*$",
                                 description="the structure's name (no square brackets: metric keys "
                                             "read dice[name])")]


class _Class(StrictModel):
    name: ClassName

    @model_validator(mode="after")
    def _not_background(self) -> "_Class":
        if self.name.strip().lower() == BACKGROUND:
            raise ValueError(f"name {self.name!r} is reserved for class 0 (implicit: whatever no class lists)")
        return self


class SegmentClass(_Class):
    """A class of a DICOM source: SEG segment labels (SegmentLabel) that form it."""

    values: Annotated[list[Annotated[str, Field(min_length=1)]], distinct("a segment label")] | None = Field(
        default=None, min_length=1, description="SEG segment labels; left out: every segment (one class only)")


class ValueClass(_Class):
    """A class of an MSD or image-folder source: label values (MSD) or mask pixel values (images)."""

    values: Annotated[list[Annotated[int, Field(ge=0)]], distinct("a label value")] | None = Field(
        default=None, min_length=1, description="source label values; left out: every value > 0 (one class only)")


def _check_classes(classes: list) -> list:
    """Names and values distinct across classes; ``values`` left out only for a single class."""
    names = [c.name for c in classes]
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise ValueError(f"class name {twice[0]!r} is given twice")
    if len(classes) > 1:
        open_ended = [c.name for c in classes if c.values is None]
        if open_ended:
            raise ValueError(f"class {open_ended[0]!r} lists no values: with several classes each must "
                             f"list its own (values left out means everything, for a single class only)")
    owner: dict = {}
    for c in classes:
        for value in c.values or ():
            if value in owner:
                raise ValueError(f"value {value!r} is given to both {owner[value]!r} and {c.name!r}")
            owner[value] = c.name
    return classes


def _refuse_renamed(data: Any) -> Any:
    if isinstance(data, dict):
        for old, new in RENAMED.items():
            if old in data:
                raise ValueError(f"{old} was replaced by {new}")
    return data


class _Source(StrictModel):
    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return _refuse_renamed(data)

    @property
    def class_names(self) -> list[str]:
        """The foreground classes' names, by class index 1..N."""
        return [c.name for c in self.classes]  # type: ignore[attr-defined]


class DicomSource(_Source):
    """A folder of DICOM files: CT image series with DICOM SEG ground truth (any layout)."""

    format: Literal["dicom"]
    path: str = Field(min_length=1, description="the folder (the default cohort: the deid stage's output, "
                                                "written in params.yaml as an alias of paths.deid)")
    classes: Annotated[list[SegmentClass], Field(min_length=1)]

    @model_validator(mode="after")
    def _classes(self) -> "DicomSource":
        _check_classes(self.classes)
        return self


class MsdSource(_Source):
    """A Medical Segmentation Decathlon task folder (dataset.json, imagesTr/, labelsTr/)."""

    format: Literal["msd"]
    path: str = Field(min_length=1)
    channel: int = Field(default=0, ge=0, description="image channel of 4D (multi-modal) images")
    classes: Annotated[list[ValueClass], Field(min_length=1)]

    @model_validator(mode="after")
    def _classes(self) -> "MsdSource":
        _check_classes(self.classes)
        zero = [c.name for c in self.classes if 0 in (c.values or ())]
        if zero:
            raise ValueError(f"class {zero[0]!r} lists label 0, the MSD background")
        return self


class ImageFolderSource(_Source):
    """2D images and masks in two folders, matched by file name (PNG, TIFF, GIF)."""

    format: Literal["image_folder"]
    path: str = Field(min_length=1)
    image_dir: str = "image"
    label_dir: str = "label"
    pattern: str = Field(default="*.png", description="glob for image files, e.g. *.tif")
    label_suffix: str = Field(default="", description="label name = image stem + suffix + extension")
    classes: Annotated[list[ValueClass], Field(min_length=1)] = Field(
        description="mask pixel values per class (0 allowed: some masks mark the structure black)")
    pixel_spacing_mm: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _classes(self) -> "ImageFolderSource":
        _check_classes(self.classes)
        return self


SourceParams = Annotated[Union[DicomSource, MsdSource, ImageFolderSource], Field(discriminator="format")]
