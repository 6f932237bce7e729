"""`python -m dqfl` is the same as the `dqfl` console script."""

from dqfl.console import main

main()
