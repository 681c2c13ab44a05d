"""The command line's verbs: each module registers its subcommands and only calls the library.

A command module imports library modules of :mod:`regionguard` and
:mod:`regionguard.commands._args`, never another command module.
"""
