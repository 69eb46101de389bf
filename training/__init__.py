"""Training: photo-library datasets, losses, training loops, evaluation and their CLIs."""
