"""Training: configs, losses, the Lightning module and the run folder."""
