"""Reports: self-contained HTML pages, figures and raw data of a desk's evaluation."""
