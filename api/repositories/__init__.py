"""Data access: SQLModel queries only, no HTTP and no business rules."""
