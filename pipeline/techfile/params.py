"""The ``techfile`` section of ``params.yaml``: the product's identity on every document.

Where the evidence is read and the book written are ``params.yaml``'s ``paths`` (``pipeline.paths``).
"""

from __future__ import annotations

from pydantic import Field

from pipeline.core.params_base import StrictModel


class TechfileParams(StrictModel):
    """Product identity shown on the technical file."""

    product_name: str = Field(min_length=1, max_length=120)
    manufacturer: str = Field(min_length=1, max_length=120)
