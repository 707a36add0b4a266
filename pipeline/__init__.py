"""Regulatory-grade medical-imaging segmentation pipeline with design-control traceability."""

__version__ = "0.1.0"
