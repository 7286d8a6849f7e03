"""Persistent results: SQLModel tables, engine set-up, migrations and queries."""
