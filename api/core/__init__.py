"""The service's foundations: settings, database, security, errors, tables, schemas, files."""
