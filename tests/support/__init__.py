"""What the test suites share, one home each; test modules import helpers only from here."""
