"""What the training of both tasks shares (PyTorch and Lightning): `base.TaskModule`, the
Lightning module the segmentation and classification modules build on, and `build_optimizer`."""
