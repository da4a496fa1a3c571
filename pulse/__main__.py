"""`python -m pulse` runs the CLI, as the `pulse` console script does."""

from pulse.cli import main

main()
