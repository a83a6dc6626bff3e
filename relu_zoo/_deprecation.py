"""Old public names that keep working for one release, each with a `DeprecationWarning` naming the new one
(NumPy's and Keras' habit): one message, one mechanism, for every alias of the package.

    # at the end of the module the names left
    __getattr__ = _deprecation.moved(__name__, {"export_model": "relu_zoo.deploy.export_model"})

A module whose path changed keeps a stub at the old path that calls `module_moved` and defines the same
`__getattr__` for its names. A command-line flag keeps its old spelling as a hidden alias:

    _deprecation.renamed_flag(parser, "--dest", parser.add_argument("--out", help=...))
"""

import argparse
import importlib
import sys
import warnings

REMOVAL = "it will be removed in the next release"


def message(old, new):
    return f"{old} is deprecated: use {new} ({REMOVAL})."


def moved(module, names):
    """The module-level `__getattr__` (PEP 562) of `module` (its `__name__`): `names` maps each old attribute to
    the dotted path of its new place; reading one warns and returns the object at the new place.

    The new module is imported on first use, not with the old one: an alias may point to a module that imports
    the old one (`pretrained.export` -> `relu_zoo.zoo`, which imports `pretrained`), and importing the old module
    stays as cheap as before. The mapping is kept as `__getattr__.moved` for the tests."""
    names = dict(names)

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, _, attribute = names[name].rpartition(".")
        # stacklevel 2: the line that read the old name, so Python's default filter shows it in a user's script.
        warnings.warn(message(f"{module}.{name}", names[name]), DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new_module), attribute)

    __getattr__.moved = names
    return __getattr__


def module_moved(old, new):
    """Called at the top of a stub left at an old module path: warns once, when the stub is first imported, and
    marks the stub with `__deprecated__` (PEP 702's name), which stays after the one warning."""
    text = message(old, new)
    sys.modules[old].__deprecated__ = text
    # stacklevel 3: past this function and the stub's module code; the warnings machinery skips importlib's
    # frames, so the warning names the line that imported the stub.
    warnings.warn(text, DeprecationWarning, stacklevel=3)


class RenamedFlag(argparse.Action):
    """Stores the value under the new flag's dest, after one line on stderr naming the new flag."""

    def __init__(self, option_strings, dest, new, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        # Printed, not warnings.warn: Python hides DeprecationWarning outside __main__, and a command line's user
        # reads stderr, not warning filters.
        print(f"DeprecationWarning: {message(f'{parser.prog} {option_string}', self.new)}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def renamed_flag(parser, old, new):
    """Adds flag `old` to `parser` as a hidden alias of `new`, the action `parser.add_argument` returned for the
    new flag (one that takes a value): the same destination and type, and a deprecation line on stderr when
    `old` is used."""
    parser.add_argument(old, dest=new.dest, action=RenamedFlag, new=new.option_strings[0], type=new.type,
                        metavar=new.metavar, help=argparse.SUPPRESS)
