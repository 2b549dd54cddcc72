"""The catalog: the seller's single source of truth, stored in SQLite."""
