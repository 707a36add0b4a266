"""The verify stage: the released ONNX models against the V&V plan (verification/), with evidence."""
