"""The training recipe: params, balanced augmented patches, the epoch loop and losses,
sliding-window validation and determinism. The train stage trains the teacher with it; the
compress stage trains every candidate with the same recipe, read from the teacher's checkpoint.
"""
