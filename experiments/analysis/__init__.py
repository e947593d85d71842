"""Analysis at the edge: CSV → DataFrame (stats), summaries, plots, report and the analyze-results CLI."""
