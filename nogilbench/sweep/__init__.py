"""A sweep: configuration, plan and rounds; the worker process that measures one cell; the
race demo."""
