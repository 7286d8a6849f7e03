"""Results: statistics and decisions, summaries of cells, tables, comparisons, bundles."""
