"""Where bars come from: user files (CSV, Parquet, LOBSTER), built-in datasets, a synthetic
generator and the Alpaca historical-data API. Every source returns `validate_bars` output."""
