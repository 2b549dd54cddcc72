"""multichan: one local catalog, every sales channel."""

__version__ = "0.1.0"
