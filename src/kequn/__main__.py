"""``python -m kequn`` runs the command-line interface."""

from kequn.cli import main

main()
