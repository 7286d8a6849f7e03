"""`python -m nogilbench.cli`: the same as the `nogilbench` command."""

from nogilbench.cli.main import main

raise SystemExit(main())
