"""One module per ``mcnbench`` subcommand (see ``mcnbench.cli``)."""
