"""A plugin whose import fails, as one does when its own dependency is missing."""

import acme_sdk_not_installed  # noqa: F401


class Nope:
    pass
