"""The `nogilbench` command: `parser` (every option), `main` (dispatch, one-line errors) and
one module per command. Import-free, so `python -m nogilbench.cli` loads only what it runs."""
