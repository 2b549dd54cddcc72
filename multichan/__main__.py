"""Allow ``python -m multichan``."""

from multichan.cli import main

main()
