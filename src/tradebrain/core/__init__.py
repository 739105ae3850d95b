"""Domain types, errors and the typed-config base shared by every layer."""
