"""Concurrency models: one runner interface over sync, threads, processes, asyncio and
sub-interpreters, and the workloads they run."""
