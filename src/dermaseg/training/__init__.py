"""What the training of both tasks shares: `base.TaskModule`, the Lightning module the
segmentation and classification modules build on, with `build_optimizer`; `runfolder`, the run
folder's config.yaml and environment.json and the device and precision a run trains at;
`curves`, the per-epoch table and its learning-curve figure."""
