"""The training engine: fit any nn.Module on any DataBundle."""
