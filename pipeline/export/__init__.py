"""The export stage: ONNX files of the teacher and the compressed model, with metadata, on the
runtime chosen by the compress stage, behind a parity gate against their PyTorch modules."""
