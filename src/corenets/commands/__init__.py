"""Subcommands added by features beside the core (explain, serve, export, forecast, ...).

Each module here registers its subcommands with ``corenets.cli.subcommand`` and may add
``corenets.cli.PREDICTORS`` entries; cli.main() imports every module in this package.
Keep the imports inside each module's functions light: they run on every CLI start.
"""
