"""``python -m streams.cli``: the same as the ``touchpoint`` command."""

from streams.cli import main

main()
