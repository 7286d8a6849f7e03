"""The machine under test: interpreters (found, probed, provisioned), CPU topology, noise."""
