"""Where the cases come from: one reader per data layout, chosen by ``format``."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from pipeline.core.params_base import StrictModel


class DicomSource(StrictModel):
    """A folder of DICOM files: CT image series with DICOM SEG ground truth (any layout)."""

    format: Literal["dicom"]
    path: str = Field(min_length=1, description="the folder (the default cohort: the deid stage's output, "
                                                "written in params.yaml as an alias of paths.deid)")
    segments: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="SEG segment labels that form the foreground; empty: every segment",
    )


class MsdSource(StrictModel):
    """A Medical Segmentation Decathlon task folder (dataset.json, imagesTr/, labelsTr/)."""

    format: Literal["msd"]
    path: str = Field(min_length=1)
    channel: int = Field(default=0, ge=0, description="image channel of 4D (multi-modal) images")
    foreground_labels: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list,
        description="label values merged into the foreground (0 is background); empty: all > 0"
    )


class ImageFolderSource(StrictModel):
    """2D images and masks in two folders, matched by file name (PNG, TIFF, GIF)."""

    format: Literal["image_folder"]
    path: str = Field(min_length=1)
    image_dir: str = "image"
    label_dir: str = "label"
    pattern: str = Field(default="*.png", description="glob for image files, e.g. *.tif")
    label_suffix: str = Field(default="", description="label name = image stem + suffix + extension")
    foreground_values: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: [255], min_length=1,
        description="mask pixel values that are foreground (0 allowed: some masks mark the structure black)"
    )
    pixel_spacing_mm: float = Field(default=1.0, gt=0)


SourceParams = Annotated[Union[DicomSource, MsdSource, ImageFolderSource], Field(discriminator="format")]
