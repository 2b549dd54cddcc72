"""Orders coming back from the channels: the common order model, the pull that records them
and moves stock exactly once, and the queries behind ``multichan orders``."""
