"""Writes of the labeling app: teams, jobs, the work queue, and consolidating answers into the dataset."""
