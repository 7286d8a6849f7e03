"""Helpers that exist only for the notebooks and JupyterLab."""
