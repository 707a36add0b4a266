"""The train stage: a MONAI U-Net trained deterministically, optionally with torchrun DDP."""
