"""Allow ``python -m multichan``."""

from multichan.cli import run

run()
