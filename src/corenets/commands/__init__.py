"""Subcommands added by features beside the core (explain, serve, export, forecast, ...).

Each module here registers its subcommands with ``corenets.cli.subcommand``; cli.main() imports
every module in this package. (What `corenets predict` reads is the run's input kind's: data/.)
Keep the imports inside each module's functions light: they run on every CLI start.
"""
