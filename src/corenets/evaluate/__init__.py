"""Metrics, plots and reports for a trained model."""
