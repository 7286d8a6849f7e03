"""The report: DataFrames from the store, figures, conclusions computed from the data, and the
papermill/nbconvert pipeline that turns the notebooks into `reports/report.html`.

The notebooks under `notebooks/` only call these functions and present what they return.
"""
